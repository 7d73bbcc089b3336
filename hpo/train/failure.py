"""Why a trial failed, written on the Optuna trial before Optuna marks it FAILED.

Optuna keeps no reason with a FAILED trial; ``hpo trials``, the report and the fault suite
read this one back (``hpo.search.resilient.fail_reason``, which also knows trials failed for a
lost heartbeat).
"""

from __future__ import annotations

import logging
from typing import Any

from hpo.errors import DiskFull, HpoError
from hpo.train.memory import out_of_memory
from hpo.train.trial_record import FAIL_REASON_ATTR, OUT_OF_MEMORY_ATTR

logger = logging.getLogger(__name__)


def note_failure(trial: Any, exc: BaseException) -> None:
    """Record on the Optuna trial the error that is about to fail it (best effort: the error
    may be that the trial can no longer be written to). A replay (``FixedTrial``) is skipped."""
    if not hasattr(trial, "study"):
        return
    first = str(exc).strip().splitlines()
    try:
        trial.set_user_attr(
            FAIL_REASON_ATTR, f"{type(exc).__name__}: {first[0] if first else ''}"[:500]
        )
        if out_of_memory(exc):  # the search retries its params once at half the batch
            trial.set_user_attr(OUT_OF_MEMORY_ATTR, True)
    except Exception as unrecorded:  # a lost database, or a trial failed as stale meanwhile
        logger.debug("Could not record why trial %s failed: %s", trial.number, unrecorded)


def fatal_for(trial: Any, exc: BaseException) -> HpoError | None:
    """The error that should end the search after ``exc`` failed ``trial``, or None when the
    next trial may go on: a bad config or data (every later trial would hit it too) ends it with
    its own message, and so does a full disk (this machine's fault: the loop queues the trial's
    params for another worker)."""
    if isinstance(exc, HpoError):
        return exc
    full = DiskFull.caused(exc)
    if full is None:
        return None
    number = getattr(trial, "number", None)
    return DiskFull(
        f"trial {number}: {DiskFull.says(full)}; its params "
        "are queued for another worker. Free space here, or set training.output_dir to a disk "
        "with room, then start the worker again."
    )
