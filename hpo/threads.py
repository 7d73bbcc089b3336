"""Sharing CPU cores with other jobs: OpenMP threads that wait for work sleep, not spin.

PyTorch's CPU kernels run on an OpenMP thread pool (GNU libgomp in the Linux wheels). Between
parallel regions its threads spin, busy-waiting for the next one, before they sleep. Alone on
the machine that saves a wake-up per region. Beside another job on the same cores, the
spinning threads of each process burn the time slices the other needs to make progress, and
both slow down by far more than the 2x that sharing costs (`bench/shared_cores.py` measures
it). ``OMP_WAIT_POLICY=PASSIVE`` makes waiting threads sleep at once.

libgomp reads the variable once, when it starts, so it must be set before torch is imported:
the CLI calls :func:`share_cores` first thing, and worker processes inherit it. A value the
user set is kept.
"""

from __future__ import annotations

import logging
import os
import sys

logger = logging.getLogger(__name__)

#: The wait policy hpo sets unless the environment names one.
WAIT_POLICY = "PASSIVE"


def share_cores(environ: dict[str, str] | None = None) -> bool:
    """Set ``OMP_WAIT_POLICY`` to :data:`WAIT_POLICY` unless it is set; returns whether it
    takes effect (it cannot once torch, and with it OpenMP, is loaded)."""
    env = os.environ if environ is None else environ
    if "OMP_WAIT_POLICY" in env:
        return False
    env["OMP_WAIT_POLICY"] = WAIT_POLICY
    if "torch" in sys.modules and environ is None:
        logger.debug("torch is already imported: OMP_WAIT_POLICY applies to child processes only")
        return False
    return True
