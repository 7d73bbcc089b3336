"""A plan, as one typed record: what was decided, by whom and why, and what each stage takes.

:func:`hpo.plan.planner.make_plan` writes it; the budgeted run keeps it in
``runs/<study>/plan.json`` and on the study (:meth:`Plan.to_dict`), and the report reads that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hpo.errors import ConfigError
from hpo.plan.constants import MAX_EPOCHS, MIN_TRIALS

if TYPE_CHECKING:
    from hpo.plan.profile import DataProfile


@dataclass(frozen=True)
class Choice:
    """One key of the resolved config: its value, who chose it and why."""

    key: str
    value: Any
    by: str  # "you" or "planner"
    why: str = ""


@dataclass(frozen=True)
class StagePlan:
    """One stage of the job and its planned seconds."""

    name: str
    what: str
    seconds: float


@dataclass(frozen=True)
class Plan:
    """What the planner decided, what the stages should take, and the facts it used."""

    budget_seconds: float
    choices: tuple[Choice, ...]
    stages: tuple[StagePlan, ...]
    #: Seconds from the job's start by which the search must end (the rest is the final's).
    search_ends_at: float
    #: Planned seconds of the shortest trial (one epoch, or the fixed epochs): no trial starts
    #: with less than this left of the search's share.
    shortest_trial_seconds: float
    notes: tuple[str, ...] = ()
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        """The planned seconds of the whole job."""
        return sum(stage.seconds for stage in self.stages)

    def overrides(self) -> dict[str, Any]:
        """The planner's values by dotted key (the user's own are left as they are)."""
        return {c.key: c.value for c in self.choices if c.by == "planner"}

    def value(self, key: str) -> Any:
        """The planned (or the user's) value of a dotted key."""
        return next(c.value for c in self.choices if c.key == key)

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for ``plan.json`` and the study's user attrs."""
        return {
            "budget_seconds": self.budget_seconds,
            "planned_seconds": round(self.total_seconds, 1),
            "search_ends_at": round(self.search_ends_at, 1),
            "shortest_trial_seconds": round(self.shortest_trial_seconds, 1),
            "choices": [vars(c) for c in self.choices],
            "stages": [vars(s) | {"seconds": round(s.seconds, 1)} for s in self.stages],
            "notes": list(self.notes),
            **self.facts,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        """The plan :meth:`to_dict` wrote (in ``plan.json``, beside a run's own keys, which are
        left out)."""
        known = {"budget_seconds", "planned_seconds", "search_ends_at", "shortest_trial_seconds"}
        known |= {"choices", "stages", "notes"}
        facts = {k: v for k, v in data.items() if k not in known | set(RUN_KEYS)}
        return cls(
            budget_seconds=float(data["budget_seconds"]),
            choices=tuple(Choice(**c) for c in data["choices"]),
            stages=tuple(StagePlan(**s) for s in data["stages"]),
            search_ends_at=float(data["search_ends_at"]),
            shortest_trial_seconds=float(data["shortest_trial_seconds"]),
            notes=tuple(data.get("notes", ())),
            facts=facts,
        )


def unused_budget_note(choices: list[Choice], planned: float, budget: float, *, uncut: bool) -> str:
    """Why a plan leaves more than ``1 - FILL`` of its budget unused: the keys you set that
    hold it back, or every key at its most."""
    held = [
        f"{c.key} {c.value} (set by you)"
        for c in choices
        if c.by == "you"
        and c.key
        in (
            "data.max_length",
            "data.max_train_samples",
            "data.max_eval_samples",
            "study.n_trials",
            "study.evals_per_epoch",
            "training.num_train_epochs",
            "search_space.num_train_epochs",
        )
    ]
    value = {c.key: c.value for c in choices}
    if not held and value.get("study.n_trials") == 0:
        at_most = (
            value.get("data.max_train_samples") is None
            and uncut
            and float(value.get("training.num_train_epochs") or 0) >= MAX_EPOCHS
        )
        held.append(
            "no search, and every key at its most: all of train, texts whole, "
            f"{MAX_EPOCHS} epochs, the most the final stage trains"
            if at_most
            else "no search, and the final stage's next step (a longer length, one more epoch) "
            "does not fit"
        )
    if not held:
        if value.get("data.max_train_samples") is None:
            held.append("all of train searched")
        if uncut:
            held.append("texts uncut")
        held.append(f"{value.get('study.n_trials')} trials")
    share = f"the plan uses {100 * planned / budget:.0f}% of the budget"
    return f"{share}; what holds it: {', '.join(held)}"


def data_notes(profile: DataProfile, trials: int) -> list[str]:
    """What a plan should say about the data and the search it affords."""
    notes = []
    per_class = min(profile.class_counts) if profile.class_counts else 0
    if per_class < 20:
        notes.append(
            f"the rarest class has {per_class} training examples: too few for a fine-tuned "
            "model to learn it reliably"
        )
    if 0 < trials < MIN_TRIALS:
        notes.append(f"only {trials} trial(s) fit: the search can say little")
    return notes


#: Keys a run writes into ``plan.json`` beside the plan (:class:`hpo.plan.budgeted.StageClock`).
RUN_KEYS = ("started", "actual_seconds", "elapsed_seconds", "events")


class BudgetTooSmall(ConfigError):
    """The budget cannot hold one trial and the final stage."""
