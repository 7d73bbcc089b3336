"""A budgeted run: plan it, keep the plan's clock, re-plan the final stage from what the trials
measured.

:func:`plan_budget` profiles the data, measures the machine, makes the plan and returns the
config the plan resolves (the user's keys as they were, the planner's filled in).
:class:`StageClock` times each stage against the plan and keeps ``runs/<study>/plan.json``
up to date. :func:`replan_final` fits the final stage into what is left once the search ends.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from hpo.config.budget import format_minutes, parse_budget
from hpo.config.validate import config_from_dict
from hpo.errors import config_source
from hpo.plan.decision import Plan
from hpo.plan.measure import grid_for, measure_machine
from hpo.plan.planner import KEEP_WHOLE, LENGTHS, MARGIN, make_plan
from hpo.plan.profile import DataProfile, profile_data
from hpo.runs import write_atomically

if TYPE_CHECKING:
    import optuna

    from hpo.config.schema import HpoConfig

logger = logging.getLogger(__name__)


def plan_budget(config: HpoConfig, *, with_reference: bool) -> tuple[HpoConfig, Plan, DataProfile]:
    """Profile, measure, plan: the planned config, the plan and the data's profile."""
    from hpo.train.model import load_model_config, load_tokenizer

    budget = parse_budget(config.study.budget or 0)
    tokenizer = load_tokenizer(config.model)
    profile = profile_data(config.data, tokenizer)
    model_max = int(getattr(load_model_config(config.model), "max_position_embeddings", 512))
    model_max = min(model_max, LENGTHS[-1])
    # The machine is measured up to the longest length the plan can choose: the data's whole
    # length (short texts need no long steps measured), or the user's own.
    longest = next(
        (n for n in LENGTHS if n <= model_max and profile.share_cut(n) <= 1 - KEEP_WHOLE),
        model_max,
    )
    if "data.max_length" in config.explicit:
        longest = config.data.max_length
    rates = measure_machine(config, profile.labels, grid_for(min(longest, model_max)))
    plan = make_plan(
        config,
        profile,
        rates,
        budget,
        model_max_length=model_max,
        with_reference=with_reference,
        # What profiling and measuring cost when they ran, cached or not: the same data and
        # machine give the same plan, so a rerun resumes the same study.
        spent_seconds=profile.profile_seconds + rates.measured_seconds + 5.0,
    )
    facts = {**plan.facts, "profile": profile.to_dict(), "machine": rates.to_dict()}
    plan = dataclasses.replace(plan, facts=facts)
    return apply_plan(config, plan), plan, profile


def apply_plan(config: HpoConfig, plan: Plan) -> HpoConfig:
    """``config`` with the planner's values set (checked like any config; the user's explicit
    keys stay the user's)."""
    raw = config.to_dict()
    for key, value in plan.overrides().items():
        section, _, name = key.partition(".")
        raw.setdefault(section, {})[name] = value
        if key == "search_space.num_train_epochs":
            raw.get("training", {}).pop("num_train_epochs", None)
    with config_source(config.source):
        planned = config_from_dict(raw, source=config.source)
    return dataclasses.replace(planned, explicit=config.explicit)


class StageClock:
    """Each stage's actual seconds beside its planned ones, in ``plan.json`` as it goes."""

    def __init__(self, path: Path, plan: Plan, started: float) -> None:
        self.path, self.plan, self.started = path, plan, started
        self.actual: dict[str, float] = {"prepare": time.time() - started}
        self.events: list[str] = []
        self.write()

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the stage ``name``; ``plan.json`` is rewritten when it ends."""
        start = time.time()
        try:
            yield
        finally:
            self.actual[name] = self.actual.get(name, 0.0) + time.time() - start
            self.write()

    def note(self, text: str) -> None:
        """Something the run did to keep the deadline (in ``plan.json`` and the report)."""
        logger.info("%s", text)
        self.events.append(text)
        self.write()

    def left(self) -> float:
        """Seconds left of the budget (less its margin)."""
        return self.started + self.plan.budget_seconds * (1 - MARGIN / 2) - time.time()

    def write(self) -> None:
        """Write ``plan.json``: the plan, the actual seconds so far, what was adjusted."""
        record = self.plan.to_dict() | {
            "started": self.started,
            "actual_seconds": {k: round(v, 1) for k, v in self.actual.items()},
            "elapsed_seconds": round(time.time() - self.started, 1),
            "events": self.events,
        }
        write_atomically(self.path, json.dumps(record, indent=1) + "\n")


def measured_rates(study: optuna.Study) -> tuple[float, float] | None:
    """(training, scoring) seconds per example, the medians of what the trials measured."""
    from optuna.trial import TrialState

    train, score = [], []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)):
        attrs = trial.user_attrs
        if attrs.get("samples_trained") and attrs.get("step_seconds"):
            train.append(attrs["step_seconds"] / attrs["samples_trained"])
        if attrs.get("samples_scored") and attrs.get("eval_seconds"):
            score.append(attrs["eval_seconds"] / attrs["samples_scored"])
    if not train or not score:
        return None
    return statistics.median(train), statistics.median(score)


def replan_final(
    clock: StageClock,
    study: optuna.Study,
    *,
    stop_epoch: float,
    evals_per_epoch: int,
    profile: DataProfile,
    retrains: int,
) -> float:
    """The epoch the final retrain stops at so that it (and the reference retrain, ``retrains``
    2) fits what is left of the budget, from the rates the trials measured: the best trial's
    peak epoch when it fits, else the latest evaluation point that does."""
    rates = measured_rates(study)
    if rates is None:
        return stop_epoch
    train, score = rates
    load = clock.plan.facts.get("cost_model", {}).get("load_seconds", 0.0)
    later = sum(s.seconds for s in clock.plan.stages if s.name in ("baselines", "report"))

    def seconds(epoch: float) -> float:
        one = load + profile.n_final_train * epoch * train + profile.n_test * score
        return one * retrains

    left = clock.left() - later
    if seconds(stop_epoch) <= left:
        return stop_epoch
    point = int(stop_epoch * evals_per_epoch)
    while point > 1 and seconds(point / evals_per_epoch) > left:
        point -= 1
    new = point / evals_per_epoch
    clock.note(
        f"final stage re-planned from the trials' rates: stops at epoch {new:g} instead of the "
        f"best trial's peak {stop_epoch:g}, to fit the {format_minutes(max(0.0, left))} left"
        + ("" if seconds(new) <= left else " (even that runs over)")
    )
    return new


def save_plan_on_study(study: optuna.Study, plan: Plan) -> None:
    """The plan's choices and stages on the study's user attrs (what the dashboard shows)."""
    record = plan.to_dict()
    record.pop("profile", None)
    record.pop("machine", None)
    study.set_user_attr("plan", record)
