"""Re-planning as a budgeted run goes: when the search ends and what the final stage trains,
from what the run has measured.

:func:`search_deadline` ends the search so that the final stage still fits at the trials'
rates. A final stage that keeps its best point on validation times itself first
(:func:`final_machine`: at its own batch and length, since neither the machine's measurement
nor the trials trained at them), with no search chooses its length again from the time left
(:func:`final_length`, timed again there), takes the epochs the time left holds
(:func:`final_epochs`) and stops by the deadline whatever its epoch (:func:`final_stop_by`);
one that stops where the best trial peaked stops sooner where that does not fit
(:func:`replan_final`).
"""

from __future__ import annotations

import statistics
import time
from typing import TYPE_CHECKING

from hpo.config.budget import format_minutes
from hpo.config.reference import FINAL_EPOCH_STEPS
from hpo.plan.check import RateCheck, check_rates, check_seconds
from hpo.plan.constants import MARGIN, MAX_EPOCHS
from hpo.plan.costs import Costs, costs_at, final_seconds, grouped_by_length
from hpo.plan.fill import fill_share
from hpo.plan.sizing import largest
from hpo.train.trial_record import TrialRecord

if TYPE_CHECKING:
    import optuna

    from hpo.config.schema import TrainerSetup
    from hpo.plan.budgeted import StageClock
    from hpo.plan.decision import Plan
    from hpo.plan.profile import DataProfile
    from hpo.plan.rates import MachineRates


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
    clock: StageClock,
    study: optuna.Study | None,
    *,
    profile: DataProfile,
    retrains: int,
    rates: tuple[float, float] | None = None,
) -> float:
    """Epochs of a final stage that keeps its best point on validation (``final_keep_best``):
    the plan's, and more while the time left holds them (up to :data:`MAX_EPOCHS`; fewer where
    it does not hold the plan's), on its evaluation grid, at ``rates`` (the final stage's own,
    :func:`final_machine` and :func:`rates_at`), else the trials', else the plan's. Time a
    search left unspent, or a machine faster than planned, goes to training."""
    step = FINAL_EPOCH_STEPS
    planned = max(1, round(planned_epochs(clock.plan) * step))
    rates = rates or _rates(clock, study)
    left = clock.left() - _later_seconds(clock)

    def fits(points: int) -> bool:
        return _final_seconds(clock, profile, rates, points / step, retrains) <= left

    # The most that fit, from the plan's up; else from one point up; else one point.
    points = largest(fits, planned, MAX_EPOCHS * step) or largest(fits, 1, planned) or 1
    if points != planned:
        clock.note(
            f"final stage re-planned with {format_minutes(max(0.0, left))} left: "
            f"{points / step:g} epoch(s) instead of the planned {planned / step:g}, the best "
            "point kept on validation"
            + ("" if fits(points) else " (even that runs over)")
            + (
                f" (at its most, {MAX_EPOCHS} epochs: the rest of the budget is left unspent)"
                if points == MAX_EPOCHS * step and fits(points + 1)
                else ""
            )
        )
    return points / step


def final_machine(
    setup: TrainerSetup, clock: StageClock, profile: DataProfile, *, length: int, batch: int
) -> MachineRates | None:
    """The machine's rates as a final stage sees them now, timed at its own batch and ``length``
    on the data's length mix (:func:`~hpo.plan.check.check_rates`), for its length and epochs
    to be fixed by: neither the machine's rates (measured at the search's smallest batch) nor
    the trials' (their batches, their subsets) are the final stage's. A check the plan made at
    that length and batch (a plan with no search times the strong default's) is used again.
    None where the plan holds no machine measurement."""
    from hpo.plan.rates import MachineRates

    if not clock.plan.facts.get("machine"):
        return None
    rates = MachineRates.from_dict(clock.plan.facts["machine"])
    # The plan timed the strong default's batch already (a plan with no search): that check.
    planned = [
        c
        for c in clock.plan.facts.get("checks", [])
        if c.get("length") == length and c.get("batch") == batch
    ]
    if planned:
        check = RateCheck(length, planned[-1]["train_ratio"], planned[-1]["eval_ratio"], 0, 0.0)
    else:
        check = check_rates(setup, profile, rates, length, batch=batch)
    when = "when planned" if planned else f"now ({check.seconds:.0f} s)"
    clock.note(
        f"final stage timed at batch {batch} and {length} tokens {when}: training "
        f"{check.train_ratio:.2f}x, scoring {check.eval_ratio:.2f}x the machine's rates "
        f"(measured at batch {rates.train_batch}); its epochs follow from these"
    )
    return rates.scaled(check.train_ratio, check.eval_ratio)


def rates_at(
    setup: TrainerSetup, profile: DataProfile, seen: MachineRates, *, length: int, batch: int
) -> tuple[float, float]:
    """(training, scoring) seconds per example at ``length`` and ``batch`` on the data's length
    mix, at the rates ``seen`` (:func:`final_machine`)."""
    c = costs_at(profile, seen, length, grouped=grouped_by_length(setup.training), batch=batch)
    return c.train, c.eval


def final_length(
    setup: TrainerSetup,
    clock: StageClock,
    profile: DataProfile,
    seen: MachineRates | None,
    *,
    batch: int,
    retrains: int,
) -> int:
    """The length a final stage with no search trains at, chosen again when it starts by the
    plan's own rule (:func:`~hpo.plan.fill.fill_share`: the longest length whose epochs fill
    the share, a longer one only for the recipe's epochs, else the plan's) from the time
    actually left and the rates ``seen`` now: the plan chose its length against allowances
    (preparing, the baselines, the machine's cached rates) that the run has since measured.
    A length other than the plan's is timed before it trains (:func:`final_machine`), and
    that is counted. Never shorter than the plan's; the plan's where it lists no other (your
    length, a search's, a plan made elsewhere)."""
    planned = int(clock.plan.facts.get("cost_model", {}).get("length", 0))
    lengths = [int(n) for n in clock.plan.facts.get("final_lengths") or []]
    if seen is None or len(lengths) < 2 or not planned:
        return planned
    # Nothing is tokenized yet where there was no search: at whichever length, that comes first.
    tokenizing = profile.tokenize_seconds_per_example * (
        profile.n_train + profile.n_validation + profile.n_test
    )
    left = clock.left() - _later_seconds(clock) - tokenizing

    def seconds(length: int, epochs: float) -> float:
        """The final stage at ``length``; another than the plan's is timed first."""
        rates = rates_at(setup, profile, seen, length=length, batch=batch)
        timing = 0.0 if length == planned else check_seconds(seen, length, batch=batch)
        return timing + _final_seconds(clock, profile, rates, epochs, retrains)

    # A longer length only for the recipe's epochs (the plan may have given fewer for its
    # allowances); fewer, down to the fewest planned, only at the plan's length.
    tries = [float(e) for e in clock.plan.facts.get("final_least_epochs") or [1.0]]
    recipe, fewest = max(tries), min(tries)
    if seconds(planned, fewest) > left:
        return planned
    length = max(fill_share(seconds, lengths, recipe, left, floor=fewest)[0], planned)
    if length != planned:
        clock.note(
            f"final stage re-planned with {format_minutes(max(0.0, left))} left: {length} "
            f"tokens instead of the planned {planned}, the longest length at which {recipe:g} "
            "epoch(s) or more fill the time left, the plan's own rule (it cuts "
            f"{profile.share_cut(length):.0%} of training examples)"
        )
    return length


def final_stop_by(
    clock: StageClock,
    study: optuna.Study | None,
    *,
    profile: DataProfile,
    rates: tuple[float, float] | None = None,
) -> float:
    """``time.time()`` by which a final stage that keeps its best point stops training,
    whatever its epoch, so that scoring validation and test and what follows still fit the
    budget: its rates (``rates``, else the trials', else the plan's) may be off (a machine
    slower today)."""
    _, scored = profile.final_examples(holdout=bool(clock.plan.facts.get("final_holdout")))
    after = scoring_seconds(clock, study, examples=scored, rates=rates)
    return time.time() + clock.left() - after - _later_seconds(clock)


def scoring_seconds(
    clock: StageClock,
    study: optuna.Study | None,
    *,
    examples: int,
    rates: tuple[float, float] | None = None,
) -> float:
    """Seconds to score ``examples`` at ``rates``, else the trials', else the plan's."""
    return examples * (rates or _rates(clock, study))[1]


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
