"""Counting a study's trials: what counts toward n_trials, the best one, where it peaked."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from hpo.errors import StorageError
from hpo.search.trials import (
    SurplusTrialError,
    best_trial,
    check_not_surplus,
    count_states,
    finished,
    peak_epoch,
    short_params,
)


def _study(*states: TrialState) -> optuna.Study:
    study = optuna.create_study(direction="maximize")
    dist = {"learning_rate": FloatDistribution(1e-5, 1e-3)}
    for i, state in enumerate(states):
        done = state in (TrialState.COMPLETE,)
        study.add_trial(
            create_trial(
                state=state,
                value=0.5 + i / 100 if done else None,
                params={"learning_rate": 1e-4},
                distributions=dist,
            )
        )
    return study


def test_complete_and_pruned_count_failed_do_not() -> None:
    study = _study(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.COMPLETE)
    counts = count_states(study)
    assert finished(counts) == 3 and counts[TrialState.FAIL] == 1


def test_peak_epoch_is_the_earliest_of_equal_bests() -> None:
    evals = [
        {"epoch": 0.5, "value": 0.8},
        {"epoch": 1.0, "value": 0.9},
        {"epoch": 1.5, "value": 0.9},
    ]
    trial = create_trial(value=0.9, user_attrs={"evals": evals})
    assert peak_epoch(trial) == 1.0
    # Evaluations recorded before study.metric existed carry "accuracy".
    old = create_trial(value=0.7, user_attrs={"evals": [{"epoch": 2.0, "accuracy": 0.7}]})
    assert peak_epoch(old) == 2.0
    assert peak_epoch(create_trial(value=0.7, params={}, distributions={})) == 1.0


def test_best_trial_without_a_completed_one_is_a_clear_error() -> None:
    with pytest.raises(StorageError, match="has no completed trial"):
        best_trial(_study(TrialState.PRUNED))
    assert best_trial(_study(TrialState.COMPLETE, TrialState.COMPLETE)).number == 1


def test_short_params_round_floats_only() -> None:
    assert short_params({"lr": 0.000123456, "batch": 16}) == {"lr": 0.0001235, "batch": 16}


def test_a_trial_after_n_trials_is_surplus() -> None:
    study = optuna.create_study(direction="maximize")
    first, second = study.ask(), study.ask()
    check_not_surplus(first, max_trials=1)
    with pytest.raises(SurplusTrialError, match="trial 1 is surplus"):
        check_not_surplus(second, max_trials=1)
    assert second.user_attrs["surplus"] is True
