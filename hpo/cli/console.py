"""What a command prints while it works: hpo's own log lines, and the libraries kept quiet.

Only the CLI calls these; library code logs through ``logging.getLogger(__name__)``.
"""

from __future__ import annotations

import logging
import sys


class _ExpectedTrialFailures(logging.Filter):
    """Shortens Optuna's records of trials that failed as expected.

    A trial failed by Ctrl-C: both records (the whole traceback, then its value, None) are
    dropped; the CLI says what happened in one line. A surplus trial (a worker started it after
    the study filled, :class:`~hpo.search.trials.SurplusTrialError`): its one-line reason stays,
    the traceback and the value line go; nothing went wrong that a traceback could explain.
    """

    def __init__(self) -> None:
        super().__init__()
        self._trial: str | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        from hpo.search.trials import SurplusTrialError

        message = record.getMessage()
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, KeyboardInterrupt | SurplusTrialError):
            self._trial = message.split(" failed", 1)[0]  # "Trial 3"
            record.exc_info = record.exc_text = None
            return not isinstance(exc, KeyboardInterrupt)
        if self._trial and message.startswith(f"{self._trial} failed with value"):
            self._trial = None
            return False
        return True


def setup_logging(quiet: bool) -> None:
    """Log records of hpo to standard error: INFO, or WARNING with ``--quiet``."""
    level = logging.WARNING if quiet else logging.INFO
    logging.basicConfig(
        level=level, format="[%(levelname)s %(name)s] %(message)s", stream=sys.stderr
    )
    logging.getLogger("hpo").setLevel(level)


def quiet_libraries(quiet: bool, debug: bool) -> None:
    """Keep the libraries to warnings: hpo logs one line per trial start, prune and finish
    itself (Optuna's own lines would repeat them, and say "Using an existing study" before
    every trial)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for handler in logging.getLogger("optuna").handlers:
        for old in [f for f in handler.filters if isinstance(f, _ExpectedTrialFailures)]:
            handler.removeFilter(old)
        if not debug:
            handler.addFilter(_ExpectedTrialFailures())
    if quiet or not sys.stderr.isatty():
        # Quiet, or output that is not a terminal (a Slurm task's log, a file): no bars, whose
        # every redraw would be one more update on one long line there.
        import datasets
        import transformers

        datasets.disable_progress_bars()
        transformers.utils.logging.disable_progress_bar()
    if quiet:
        import transformers

        transformers.utils.logging.set_verbosity_error()
