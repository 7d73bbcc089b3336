"""A plan's record from the planner's decisions: each key's value, who chose it and why, the
stages and their seconds, and the notes (:func:`assemble`, called by
:func:`hpo.plan.planner.make_plan`, which decides)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hpo.config.budget import format_minutes
from hpo.config.reference import tfidf_grid
from hpo.plan.constants import FILL, KEEP_WHOLE, MARGIN, PRUNER_STARTUP
from hpo.plan.costs import Costs, trial_seconds
from hpo.plan.decision import Choice, Plan, StagePlan, data_notes, unused_budget_note

if TYPE_CHECKING:
    from hpo.plan.profile import DataProfile
    from hpo.plan.request import PlanRequest


@dataclass(frozen=True)
class Search:
    """The search a plan affords: trials on a subset of train, and their planned seconds."""

    examples: int
    trials: int
    seconds: float


def assemble(
    request: PlanRequest,
    profile: DataProfile,
    budget_seconds: float,
    *,
    length: int,
    whole_length: int,
    read_past: int | None = None,
    epochs: float,
    trial_epochs: tuple[int, int],
    evals: int,
    costs: Costs,
    search: Search | None,
    search_why: str,
    search_by_rates: bool = True,
    keep_best: bool,
    stage_seconds: Mapping[str, float],
    eval_examples: int,
    final_lengths: Sequence[int] = (),
    least_epochs: Sequence[float] = (1.0,),
    tfidf_settings: int | None = None,
) -> Plan:
    """The :class:`Plan` of these decisions (``search`` None: no search, for ``search_why``;
    ``search_by_rates``: whether the machine's speed could change that decision).

    ``final_lengths``: the lengths a final stage with no search may take when it starts, from
    the time then left (:func:`hpo.plan.replan.final_length`), a longer one than planned only
    for the most of ``least_epochs`` (the recipe's), the planned one down to the fewest; empty
    where its length is fixed. ``tfidf_settings``: of the TF-IDF grid's settings, those the
    budget holds (None: all)."""
    cut = profile.share_cut(length)
    choices: list[Choice] = []

    def choose(
        key: str, value: Any, why: str, *, also: Sequence[str] = (), of_planner: bool = False
    ) -> None:
        """``of_planner``: ``why`` explains the planner's own value, not one you set."""
        mine = request.yours(key, also)
        current = request.value(key)
        why = "set by you" if mine and of_planner else why
        choices.append(Choice(key, current if mine else value, "you" if mine else "planner", why))

    p95, p99 = profile.percentile(95), profile.percentile(99)
    holdout = request.value("study.ship") == "best"
    final_train, final_scored = profile.final_examples(holdout=holdout)
    if length >= whole_length:
        why_length = f"keeps {100 * (1 - cut):.1f}% of training examples whole (p99 {p99} tokens)"
    elif read_past is not None and epochs < 1:
        short = (
            f"fit only at {read_past} tokens, which cut {100 * profile.share_cut(read_past):.0f}%"
            " of them"
            if read_past
            else "fit at no length"
        )
        why_length = (
            f"whole epochs of all {final_train:,} {short}; the final stage "
            f"trains a random part of train at this length instead ({epochs:g} of an epoch, "
            f"{round(epochs * final_train):,} examples); cuts {100 * cut:.0f}% (p95 {p95} tokens)"
        )
    else:
        why_length = (
            f"the longest at which the final stage's {epochs:g} epoch(s) of {final_train:,} fit; "
            f"cuts {100 * cut:.0f}% of training examples (p95 {p95} tokens)"
        )
    choose("data.max_length", length, why_length)
    truncation = "head+tail" if cut > 1 - KEEP_WHOLE else "head"
    if profile.pairs:
        truncation = "head"
    choose(
        "data.truncation",
        truncation,
        "cut texts keep their start and their end" if truncation == "head+tail" else "no cut",
        of_planner=True,
    )
    low, top = trial_epochs
    if top > low:  # you searched epochs
        choose(
            "search_space.num_train_epochs",
            {"type": "int", "low": low, "high": top},
            "set by you",
            also=("training.num_train_epochs",),
        )
    else:
        final_epochs = (
            f"the final stage trains {epochs:g} (more if time is left) and keeps the best point "
            "on validation"
            if keep_best
            else f"the final stage trains {epochs:g}"
        )
        choose(
            "training.num_train_epochs",
            top if search else epochs,
            ("each trial trains this many of its subset; " if search else "")
            + f"{final_epochs} on {final_train:,} examples",
            also=("search_space.num_train_epochs",),
        )
    examples = search.examples if search else profile.n_train
    sub = examples if examples < profile.n_train else None
    choose(
        "data.max_train_samples",
        sub,
        f"{examples:,} of {profile.n_train:,} search examples"
        + (" (all)" if sub is None else ", stratified")
        if search
        else "no search",
    )
    val = eval_examples if eval_examples < profile.n_validation else None
    choose(
        "data.max_eval_samples",
        val,
        f"{eval_examples:,} of {profile.n_validation:,} validation examples scored",
    )
    choose("study.n_trials", search.trials if search else 0, search_why)
    choose(
        "study.evals_per_epoch",
        evals,
        "two points an epoch for the pruner" if evals > 1 else "one point an epoch",
    )
    choose(
        "study.pruner",
        {"type": "MedianPruner", "n_startup_trials": PRUNER_STARTUP},
        "prunes on samples seen after the first trials",
        of_planner=True,
    )
    trials = search.trials if search else 0
    workers = int(request.value("study.workers"))
    sampler = dict(request.value("study.sampler"))
    tpe = sampler.get("type") == "TPESampler"
    if tpe:
        sampler["n_startup_trials"] = max(2, min(10, trials // 3))
    choose(
        "study.sampler",
        sampler,
        "TPE after a third of the trials at random" if tpe else "the config's sampler",
        of_planner=True,
    )

    c = costs
    grid = len(tfidf_grid())
    settings = grid if tfidf_settings is None else min(tfidf_settings, grid)
    part = f" ({settings} of its {grid} settings)" if settings < grid else ""
    stages = [
        StagePlan("prepare", "profile, measure, tokenize", stage_seconds["prepare"]),
        StagePlan(
            "search",
            f"{search.trials} trials x {search.examples:,} examples, "
            + (f"epochs {low}-{top}" if top > low else f"{top} epoch(s)")
            + (f", {workers} at once" if workers > 1 else "")
            if search
            else "none: the strong default is trained",
            search.seconds if search else 0.0,
        ),
        StagePlan(
            "baselines",
            f"TF-IDF tuned on validation{part}" + (", the model chosen" if holdout else ""),
            stage_seconds["baselines"],
        ),
        StagePlan(
            "final",
            f"train {final_train:,} x {epochs:g} epoch(s)"
            + (", keep the best on validation" if keep_best else "")
            + f", score {final_scored:,}",
            stage_seconds["final"],
        ),
    ]
    if stage_seconds["reference"]:
        stages.append(
            StagePlan("reference", "reference setup, same budget", stage_seconds["reference"])
        )
    stages.append(StagePlan("report", "report and plots", stage_seconds["report"]))
    # Seconds from the start: the search ends when what follows it just fits before the budget
    # (less its margin), however long the search was planned to take.
    search_ends = budget_seconds * (1 - MARGIN) - sum(
        s.seconds for s in stages if s.name not in ("prepare", "search")
    )
    notes = data_notes(profile, trials)
    if settings < grid:
        notes.append(
            f"the TF-IDF baseline tries {settings} of its {grid} settings: the final stage at "
            "its least does not fit beside them all"
        )
    planned = sum(stage.seconds for stage in stages)
    if planned < FILL * budget_seconds:
        notes.append(
            unused_budget_note(choices, planned, budget_seconds, uncut=length >= whole_length)
        )
    if planned > budget_seconds:
        notes.append(
            f"the keys you set need {format_minutes(planned)} against the budget of "
            f"{format_minutes(budget_seconds)}: the deadline will end the search early"
        )
    shortest = (
        trial_seconds(c, search.examples, low, eval_examples, evals) if search is not None else 0.0
    )
    return Plan(
        budget_seconds=budget_seconds,
        choices=tuple(choices),
        stages=tuple(stages),
        search_ends_at=search_ends,
        shortest_trial_seconds=shortest,
        notes=tuple(notes),
        facts={
            "cost_model": {
                "length": length,
                "train_seconds_per_example": c.train,
                "eval_seconds_per_example": c.eval,
                "load_seconds": c.load,
            },
            # The final stage trains without validation, and scores it too (study.ship: best).
            "final_holdout": holdout,
            # ... and scores it after each epoch, keeping the best: its epochs are the time's.
            "final_keep_best": keep_best,
            "final_epochs": epochs,
            "final_lengths": list(final_lengths),
            "final_least_epochs": list(least_epochs),
            # The TF-IDF grid's settings the baseline stage tries (the first by priority).
            "tfidf_settings": settings,
            # Trials the search was planned to run at once (this process and joined workers).
            "workers": workers,
            "search": {
                "chosen": search is not None,
                "why": search_why,
                "by_rates": search_by_rates,
            },
        },
    )
