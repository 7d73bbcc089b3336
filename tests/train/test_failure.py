"""The reason a failed trial carries: the error's first line, written while the trial can
still be written to, and never an error of its own."""

from __future__ import annotations

import optuna
import pytest

from hpo.train.failure import FAIL_REASON_ATTR, note_failure


def test_the_first_line_of_the_error_is_kept() -> None:
    study = optuna.create_study()
    trial = study.ask()
    note_failure(trial, OSError(28, "No space left on device"))
    note_failure(trial, RuntimeError("first line\nsecond line"))
    assert trial.user_attrs[FAIL_REASON_ATTR] == "RuntimeError: first line"


def test_a_trial_that_can_no_longer_be_written_is_left_alone() -> None:
    study = optuna.create_study()
    trial = study.ask()
    study.tell(trial, state=optuna.trial.TrialState.FAIL)
    note_failure(trial, ValueError("late"))  # the trial was failed elsewhere: no new error
    assert FAIL_REASON_ATTR not in study.trials[0].user_attrs


@pytest.mark.parametrize("replay", [optuna.trial.FixedTrial({"x": 1.0}), None])
def test_a_replay_records_nothing(replay: object) -> None:
    note_failure(replay, ValueError("no study to write to"))
