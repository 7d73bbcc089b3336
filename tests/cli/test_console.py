"""What a command prints: Optuna's records of a trial failed by Ctrl-C are left out, a surplus
trial's are one line."""

from __future__ import annotations

import logging

from hpo.cli.console import _ExpectedTrialFailures
from hpo.search.trials import SurplusTrialError


def _record(message: str, exc: BaseException | None = None) -> logging.LogRecord:
    info = (type(exc), exc, None) if exc else None
    return logging.LogRecord("optuna", logging.WARNING, __file__, 1, message, (), info)


def test_interrupted_trial_records_are_dropped_and_others_kept() -> None:
    keep = _ExpectedTrialFailures()
    assert not keep.filter(
        _record("Trial 3 failed because of the following error", KeyboardInterrupt())
    )
    assert not keep.filter(_record("Trial 3 failed with value None."))
    assert keep.filter(_record("Trial 4 failed with value None."))
    assert keep.filter(_record("Trial 5 failed because of ValueError", ValueError("x")))


def test_a_surplus_trial_is_one_line_without_its_traceback() -> None:
    keep = _ExpectedTrialFailures()
    record = _record("Trial 4 failed with parameters: {}", SurplusTrialError("trial 4 is surplus"))
    assert keep.filter(record)
    assert record.exc_info is None
    assert "Traceback" not in logging.Formatter().format(record)
    assert not keep.filter(_record("Trial 4 failed with value None."))
    other = _record("Trial 5 failed because of ValueError", ValueError("x"))
    assert keep.filter(other) and other.exc_info is not None
