"""What a command prints: Optuna's record of a trial failed by Ctrl-C is left out."""

from __future__ import annotations

import logging

from hpo.cli.console import _NoInterruptTraceback


def _record(message: str, exc: BaseException | None = None) -> logging.LogRecord:
    info = (type(exc), exc, None) if exc else None
    return logging.LogRecord("optuna", logging.WARNING, __file__, 1, message, (), info)


def test_interrupted_trial_records_are_dropped_and_others_kept() -> None:
    keep = _NoInterruptTraceback()
    assert not keep.filter(
        _record("Trial 3 failed because of the following error", KeyboardInterrupt())
    )
    assert not keep.filter(_record("Trial 3 failed with value None."))
    assert keep.filter(_record("Trial 4 failed with value None."))
    assert keep.filter(_record("Trial 5 failed because of ValueError", ValueError("x")))
