"""Counting a study's trials: what counts toward ``n_trials``, which trial is best and where it
peaked, whether it beat the strong default by more than the validation figure's noise, and the
trial one worker too many started."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import optuna
from optuna.trial import TrialState

from hpo.config.reference import DEFAULT_ATTR
from hpo.errors import StorageError
from hpo.train.trial_record import SURPLUS_ATTR, TrialRecord

#: Study attr: the validation examples every trial is scored on (stored when the search opens
#: the study).
VALIDATION_EXAMPLES_ATTR = "validation_examples"
#: z of a two-sided 95% interval.
Z95 = 1.96


def half_width(p: float, n: int, *, difference: bool = False) -> float:
    """Half-width of the 95% interval of a rate ``p`` measured on ``n`` examples (binomial),
    or, with ``difference``, of the difference of two such rates scored independently. The
    planner asks it of a single figure at 0.5, the widest; the final choice of a difference."""
    return Z95 * math.sqrt((2 if difference else 1) * p * (1 - p) / max(1, n))


def examples_to_resolve(lead: float, p: float = 0.5) -> int:
    """Fewest validation examples on which the 95% interval of the difference of two figures at
    ``p`` (:func:`half_width` with ``difference``) is no wider than ``lead``: what the final
    choice (:func:`default_within_noise`) needs to trust a search's best that leads by more."""
    return math.ceil(2 * p * (1 - p) * (Z95 / lead) ** 2)


def count_states(study: optuna.Study) -> dict[TrialState, int]:
    """Number of trials in each state, read fresh from storage."""
    counts = dict.fromkeys(TrialState, 0)
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state] += 1
    return counts


def finished(counts: dict[TrialState, int]) -> int:
    """Trials that count toward ``n_trials``."""
    return counts[TrialState.COMPLETE] + counts[TrialState.PRUNED]


def peak_epoch(trial: optuna.trial.FrozenTrial) -> float:
    """The epoch (fraction allowed) of the trial's best evaluation: the model it keeps."""
    return TrialRecord.of(trial).peak_epoch()


def best_trial(study: optuna.Study) -> optuna.trial.FrozenTrial:
    """``study.best_trial``, as a clear error when no trial has completed."""
    try:
        return study.best_trial
    except ValueError:
        raise StorageError(
            f"study {study.study_name!r} has no completed trial to export; run "
            "`hpo search` until one completes."
        ) from None


def default_within_noise(study: optuna.Study) -> tuple[optuna.trial.FrozenTrial, str] | None:
    """The strong default's trial and why, where the best trial's lead over it on validation is
    inside the noise of the figure; None where the best is ahead by more (or there is nothing
    to compare: no completed default trial, it is the best, no stored validation count).

    The best of several noisy figures is biased upward, and the strong default is the setting
    chosen before the run: a lead no wider than the 95% interval of the difference of two
    figures on ``n`` validation examples (binomial at their mean, scored independently: wider
    than the paired difference, and for F1-type metrics an approximation) is no evidence.
    """
    best = best_trial(study)
    n = study.user_attrs.get(VALIDATION_EXAMPLES_ATTR)
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    default = next((t for t in done if t.user_attrs.get(DEFAULT_ATTR)), None)
    if not n or default is None or default.number == best.number:
        return None
    best_value, default_value = float(best.value or 0.0), float(default.value or 0.0)  # complete
    lead = abs(best_value - default_value)
    p = min(1.0, max(0.0, (best_value + default_value) / 2))
    noise = half_width(p, int(n), difference=True)
    if lead > noise:
        return None
    why = (
        f"trial {best.number}'s lead over the strong default (trial {default.number}) on "
        f"validation, {100 * lead:.1f} points, is inside the noise of {int(n):,} examples "
        f"(±{100 * noise:.1f}): the strong default is trained"
    )
    return default, why


class SurplusTrialError(RuntimeError):
    """A trial started after the study already had ``n_trials`` trials finished or running.

    Workers check the count before they start a trial, but two may pass that check at once;
    the later trial (by number) is failed before it trains, so the total stays exact.
    """


def short_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """A trial's params for people: floats to 4 significant digits."""
    return {k: float(f"{v:.4g}") if isinstance(v, float) else v for k, v in params.items()}


def check_not_surplus(trial: Any, max_trials: int) -> None:
    """Raise :class:`SurplusTrialError` if trials numbered before ``trial`` fill the study."""
    counted = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
    before = [
        t for t in trial.study.get_trials(deepcopy=False, states=counted) if t.number < trial.number
    ]
    if len(before) >= max_trials:
        trial.set_user_attr(SURPLUS_ATTR, True)
        raise SurplusTrialError(
            f"trial {trial.number} is surplus: {len(before)} earlier trials already finished or "
            f"running for n_trials={max_trials}; it was not trained"
        )
