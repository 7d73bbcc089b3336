"""Why a trial failed, written on the Optuna trial before Optuna marks it FAILED.

Optuna keeps no reason with a FAILED trial; ``hpo trials``, the report and the fault suite
read this one back (``hpo.search.resilient.fail_reason``, which also knows trials failed for a
lost heartbeat).
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

#: User attr of a FAILED trial: the error that ended it, one line.
FAIL_REASON_ATTR = "fail_reason"


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
    except Exception as unrecorded:  # a lost database, or a trial failed as stale meanwhile
        logger.debug("Could not record why trial %s failed: %s", trial.number, unrecorded)
