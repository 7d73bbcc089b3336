"""Counting a study's trials: what counts toward ``n_trials``, which trial is best and where it
peaked, and the trial one worker too many started."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import optuna
from optuna.trial import TrialState

from hpo.errors import StorageError
from hpo.train.trial_record import SURPLUS_ATTR, TrialRecord


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
