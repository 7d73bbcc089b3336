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
import hashlib
import json
import logging
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from hpo.config.budget import format_minutes, parse_budget
from hpo.config.reference import FINAL_EPOCH_STEPS
from hpo.config.validate import config_from_dict
from hpo.errors import config_source
from hpo.plan.check import (
    RateCheck,
    check_rates,
    check_seconds,
    rates_seen_now,
)
from hpo.plan.constants import KEEP_WHOLE, LENGTHS, MARGIN, MAX_CHECKS, MAX_EPOCHS
from hpo.plan.costs import Costs, final_seconds
from hpo.plan.decision import Plan
from hpo.plan.measure import grid_for, measure_machine
from hpo.plan.planner import largest, make_plan
from hpo.plan.profile import DataProfile, profile_data
from hpo.runs import write_atomically
from hpo.train.trial_record import TrialRecord

if TYPE_CHECKING:
    import optuna

    from hpo.config.schema import HpoConfig
    from hpo.plan.measure import MachineRates

logger = logging.getLogger(__name__)


def plan_budget(
    config: HpoConfig, *, with_reference: bool, saved: Path | None = None
) -> tuple[HpoConfig, Plan, DataProfile]:
    """Profile, measure, check, plan: the planned config, the plan and the data's profile.

    ``saved``: a run's ``plan.json``; when it was planned from the same config (a rerun of the
    same job, or ``hpo plan`` after it), its plan is used again, so a resumed study keeps the
    settings it was started with and pays for no second measurement.
    """
    from hpo.train.model import load_model_config, load_tokenizer

    inputs = plan_inputs(config, with_reference=with_reference)
    tokenizer = load_tokenizer(config.model)
    profile = profile_data(config.data, tokenizer)
    plan = _saved_plan(saved, inputs) if saved is not None else None
    if plan is not None:
        logger.info("Using the plan this job was started with (%s).", saved)
        return apply_plan(config, plan), plan, profile
    budget = parse_budget(config.study.budget or 0)
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

    def planned(rates: MachineRates, spent: float) -> Plan:
        return make_plan(
            config,
            profile,
            rates,
            budget,
            model_max_length=model_max,
            with_reference=with_reference,
            spent_seconds=spent,
        )

    # What profiling and measuring cost when they ran, cached or not, and what the checks are
    # planned to cost: not the seconds they happened to take, so that the same data, machine
    # measurement and checks give the same plan.
    spent = profile.profile_seconds + rates.measured_seconds + 5.0
    plan = planned(rates, spent)
    checks: dict[int, RateCheck] = {}
    # Check the length the plan picks; where the rates seen there make it pick another, check
    # that one too (a ratio seen at one length says less of another the further it is).
    while len(checks) < MAX_CHECKS:
        length = int(plan.value("data.max_length"))
        if length in checks:
            break
        checks[length] = check_rates(config, profile, rates, length)
        spent += check_seconds(rates, length)
        plan = planned(rates_seen_now(rates, list(checks.values())), spent)
    rates = rates_seen_now(rates, list(checks.values()))
    facts = {
        **plan.facts,
        "inputs": inputs,
        "checks": [c.to_dict() for c in checks.values()],
        "profile": profile.to_dict(),
        "machine": rates.to_dict(),
    }
    plan = dataclasses.replace(plan, facts=facts)
    return apply_plan(config, plan), plan, profile


def plan_inputs(config: HpoConfig, *, with_reference: bool) -> str:
    """A digest of what a plan is made from on the user's side: the config as given (before
    the planner filled it in), the keys set explicitly, and whether the reference retrains."""
    record = {
        "config": config.to_dict(),
        "explicit": sorted(config.explicit),
        "with_reference": with_reference,
    }
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()


def _saved_plan(path: Path, inputs: str) -> Plan | None:
    """The plan in ``path`` when it was made from the same inputs (None otherwise)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("inputs") != inputs:
        return None
    try:
        return Plan.from_dict(data)
    except (KeyError, TypeError, ValueError):
        logger.warning("Ignoring an unreadable plan %s; planning afresh.", path)
        return None


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
        training, scoring = TrialRecord.of(trial).seconds_per_example()
        if training is not None:
            train.append(training)
        if scoring is not None:
            score.append(scoring)
    if not train or not score:
        return None
    return statistics.median(train), statistics.median(score)


def planned_epochs(plan: Plan) -> float:
    """The epochs the plan's final stage was costed at (the top of the searched range)."""
    if plan.facts.get("final_epochs"):
        return float(plan.facts["final_epochs"])
    for choice in plan.choices:
        if choice.key == "training.num_train_epochs" and choice.value is not None:
            return float(choice.value)
        if choice.key == "search_space.num_train_epochs" and isinstance(choice.value, dict):
            return float(choice.value.get("high") or max(choice.value.get("choices") or [1]))
    return 1.0


def _final_seconds(
    clock: StageClock, profile: DataProfile, rates: tuple[float, float], epoch: float, retrains: int
) -> float:
    """Seconds of the final stage (and the reference retrain) stopped at ``epoch``, at
    ``rates`` (training, scoring seconds per example)."""
    load = clock.plan.facts.get("cost_model", {}).get("load_seconds", 0.0)
    trained, scored = profile.final_examples(holdout=bool(clock.plan.facts.get("final_holdout")))
    one = final_seconds(
        Costs(train=rates[0], eval=rates[1], load=load),
        trained,
        scored,
        epoch,
        n_validation=profile.n_validation,
        keep_best=bool(clock.plan.facts.get("final_keep_best")),
    )
    return one * retrains


def _later_seconds(clock: StageClock) -> float:
    """Planned seconds of what the final stage still waits on: the report, and the baselines
    until they have run (a run fits them in before the final stage, whose epochs then take
    the time they actually left)."""
    return sum(
        s.seconds
        for s in clock.plan.stages
        if s.name in ("baselines", "report") and s.name not in clock.actual
    )


def search_deadline(
    clock: StageClock, study: optuna.Study, profile: DataProfile, *, retrains: int
) -> float:
    """When the search must end (``time.time()``) so that the final stage, at the rates the
    trials have measured so far, and what follows it still fit the budget; the plan's own
    deadline until a trial has measured them. A machine slower than its measurement ends the
    search sooner instead of cutting the final stage short; a faster one lets it run on."""
    planned = clock.started + clock.plan.search_ends_at
    rates = measured_rates(study)
    if rates is None:
        return planned
    final = _final_seconds(clock, profile, rates, planned_epochs(clock.plan), retrains)
    end = clock.started + clock.plan.budget_seconds * (1 - MARGIN) - final
    return end - _later_seconds(clock)


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

    def seconds(epoch: float) -> float:
        return _final_seconds(clock, profile, rates, epoch, retrains)

    left = clock.left() - _later_seconds(clock)
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


def final_epochs(
    clock: StageClock, study: optuna.Study | None, *, profile: DataProfile, retrains: int
) -> float:
    """Epochs of a final stage that keeps its best point on validation (``final_keep_best``):
    the plan's, and more while the time left holds them (up to :data:`MAX_EPOCHS`; fewer where
    it does not hold the plan's), on its evaluation grid, at the rates the trials measured, else
    the plan's own. Time a search left unspent, or a machine faster than planned, goes to
    training."""
    step = FINAL_EPOCH_STEPS
    planned = max(1, round(planned_epochs(clock.plan) * step))
    rates = _rates(clock, study)
    left = clock.left() - _later_seconds(clock)

    def fits(points: int) -> bool:
        return _final_seconds(clock, profile, rates, points / step, retrains) <= left

    # The most that fit, from the plan's up; else from one point up; else one point.
    points = largest(fits, planned, MAX_EPOCHS * step) or largest(fits, 1, planned) or 1
    if points != planned:
        clock.note(
            f"final stage re-planned with {format_minutes(max(0.0, left))} left: "
            f"{points / step:g} epoch(s) instead of the planned {planned / step:g}, the best "
            "point kept on validation" + ("" if fits(points) else " (even that runs over)")
        )
    return points / step


def final_stop_by(clock: StageClock, study: optuna.Study | None, *, profile: DataProfile) -> float:
    """``time.time()`` by which a final stage that keeps its best point stops training,
    whatever its epoch, so that scoring validation and test and what follows still fit the
    budget: its rates may be off (a length no trial trained at; a machine slower today)."""
    _, scored = profile.final_examples(holdout=bool(clock.plan.facts.get("final_holdout")))
    after = scored * _rates(clock, study)[1]
    return time.time() + clock.left() - after - _later_seconds(clock)


def _rates(clock: StageClock, study: optuna.Study | None) -> tuple[float, float]:
    """(training, scoring) seconds per example: the trials' where they measured them, else the
    plan's cost model."""
    rates = measured_rates(study) if study is not None else None
    if rates is not None:
        return rates
    model = clock.plan.facts.get("cost_model", {})
    return (
        float(model.get("train_seconds_per_example", 0.0)),
        float(model.get("eval_seconds_per_example", 0.0)),
    )


def save_plan_on_study(study: optuna.Study, plan: Plan) -> None:
    """The plan's choices and stages on the study's user attrs (what the dashboard shows)."""
    record = plan.to_dict()
    record.pop("profile", None)
    record.pop("machine", None)
    study.set_user_attr("plan", record)
