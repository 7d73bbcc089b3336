"""Sharing CPU cores with other jobs: OpenMP threads spin briefly, then sleep.

PyTorch's CPU kernels run on an OpenMP thread pool (GNU libgomp in the Linux wheels). Between
parallel regions its threads spin, busy-waiting for the next one, for ``GOMP_SPINCOUNT``
iterations (300,000 by default) before they sleep. Alone on the machine that saves a wake-up
per region. Beside another job on the same cores, the spinning threads of each process burn
the time slices the other needs, and both slow down by far more than the 2x that sharing
costs. ``OMP_WAIT_POLICY=PASSIVE`` (no spinning) cures that but makes a search alone slower,
since every region then pays a wake-up. A short spin keeps both:
``bench/shared_cores.py`` measures the three settings, and the docs (*Sharing the CPU*) have
the figures.

libgomp reads these variables once, when it starts, so they must be set before torch is
imported: the CLI calls :func:`share_cores` first thing, and worker processes inherit them.
A setting of the user's (either variable) is kept.
"""

from __future__ import annotations

import logging
import os
import sys

logger = logging.getLogger(__name__)

#: What hpo sets unless the environment already chooses a wait policy or spin count.
SPIN_SETTING = {"GOMP_SPINCOUNT": "10000"}
#: Variables that choose how long OpenMP threads spin; any of them set means the user chose.
USER_CHOICES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


def share_cores(environ: dict[str, str] | None = None) -> bool:
    """Set :data:`SPIN_SETTING` unless the environment has one of :data:`USER_CHOICES`;
    returns whether it takes effect (not once torch, and with it OpenMP, is loaded, except in
    child processes)."""
    env = os.environ if environ is None else environ
    if any(name in env for name in USER_CHOICES):
        return False
    env.update(SPIN_SETTING)
    if environ is None and "torch" in sys.modules:
        logger.debug("torch is already imported: %s applies to child processes only", SPIN_SETTING)
        return False
    return True
