"""The check every fault scenario ends with: the study is exact after whatever happened."""

from __future__ import annotations

import optuna
from optuna.trial import TrialState

from hpo.search.resilient import fail_reason


def check_exact(study: optuna.Study, n_trials: int) -> optuna.Study:
    """Assert n_trials counted, none RUNNING or WAITING, each failed trial rerun at most once
    (and the trial it replaces FAILED), and every FAILED trial carrying its reason."""
    states = [t.state for t in study.trials]
    assert TrialState.RUNNING not in states and TrialState.WAITING not in states, states
    counted = [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(counted) == n_trials, states
    retried = [t.system_attrs["failed_trial"] for t in counted if "failed_trial" in t.system_attrs]
    assert len(retried) == len(set(retried)), "a failed trial's params were counted twice"
    for number in retried:
        assert study.trials[number].state == TrialState.FAIL, f"trial {number} rerun but not failed"
    for trial in study.trials:
        if trial.state == TrialState.FAIL:
            assert fail_reason(study, trial), f"trial {trial.number} failed with no reason"
    return study
