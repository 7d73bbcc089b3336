"""The reason a failed trial carries: the error's first line, written while the trial can
still be written to, and never an error of its own."""

from __future__ import annotations

import errno

import optuna
import pytest

from hpo.errors import DataError, DiskFull
from hpo.train.failure import fatal_for, note_failure
from hpo.train.trial_record import FAIL_REASON_ATTR


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


def _wrapped_full_disk() -> RuntimeError:
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device", "/runs/t/tensorboard/x")
        except OSError as exc:
            raise RuntimeError("event writer failed") from exc
    except RuntimeError as outer:
        return outer


def test_a_full_disk_ends_the_search_and_says_where_and_what_to_do() -> None:
    trial = optuna.create_study().ask()
    fatal = fatal_for(trial, _wrapped_full_disk())
    assert isinstance(fatal, DiskFull) and fatal.exit_code == 74
    assert str(fatal).startswith(f"trial {trial.number}: no space left on this machine writing ")
    assert "queued for another worker" in str(fatal) and "training.output_dir" in str(fatal)
    assert isinstance(fatal_for(trial, OSError(errno.EDQUOT, "Disk quota exceeded")), DiskFull)


def test_other_errors_fail_their_trial_only_and_user_errors_end_the_search() -> None:
    trial = optuna.create_study().ask()
    assert fatal_for(trial, OSError(errno.EIO, "I/O error")) is None
    assert fatal_for(trial, RuntimeError("CUDA out of memory")) is None
    bad = DataError("data.text_column: no column 'txt'")
    assert fatal_for(trial, bad) is bad
