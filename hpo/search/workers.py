"""Several worker processes on one machine, all joining one Optuna study.

This is Optuna's own distributed mode: every worker runs the same search loop against the same
storage, and the storage is the only coordinator. No scheduler of our own.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hpo.errors import HpoError
from hpo.runs import RunLayout
from hpo.search.loop import load_search_data, open_and_seed

if TYPE_CHECKING:
    from hpo.config.schema import DataSection, ModelSection, StudySetup

logger = logging.getLogger(__name__)


def worker_env(index: int, n_workers: int, *, n_gpus: int, n_cpus: int) -> dict[str, str]:
    """Environment of worker ``index``: one GPU each when there are GPUs (round-robin), else an
    even share of the CPU threads, so N workers do not each spawn a thread per core."""
    env = dict(os.environ)
    if n_gpus > 0:
        env["CUDA_VISIBLE_DEVICES"] = str(index % n_gpus)
    else:
        threads = str(max(1, n_cpus // n_workers))
        env["OMP_NUM_THREADS"] = threads
        env["MKL_NUM_THREADS"] = threads
    return env


def run_workers(worker_argv: Sequence[str], n_workers: int) -> int:
    """Start ``n_workers`` ``hpo`` processes with ``worker_argv`` and wait for all of them.

    Returns 0 if every worker succeeded, else the first non-zero exit code. Ctrl-C is passed on
    to the workers, which fail their running trial cleanly.
    """
    import torch

    n_gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    n_cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    procs = []
    for i in range(n_workers):
        env = worker_env(i, n_workers, n_gpus=n_gpus, n_cpus=n_cpus or 1)
        cmd = [sys.executable, "-m", "hpo.cli", *worker_argv]
        logger.info("Starting worker %d/%d: %s", i + 1, n_workers, " ".join(cmd[2:]))
        procs.append(subprocess.Popen(cmd, env=env))
    try:
        codes = [p.wait() for p in procs]
    except KeyboardInterrupt:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs:
            p.wait()
        raise
    failed = [c for c in codes if c != 0]
    return failed[0] if failed else 0


def search_with_workers(
    setup: StudySetup,
    model: ModelSection,
    data: DataSection,
    n_workers: int,
    *,
    quiet: bool = False,
) -> Any:
    """Prepare the study (``setup``) and the tokenization cache of ``model`` on ``data`` once,
    then run ``n_workers`` workers on it.

    The workers run the study's saved config (``runs/<study>/config.yaml``: every override
    applied, absolute paths), so they search exactly what this process was asked to.
    """
    # Here, not in the workers: they start on a ready study instead of racing to build it.
    _, prepared = load_search_data(model, data, setup.study.metric)
    _, study = open_and_seed(setup, prepared)
    argv = ["worker", str(RunLayout(setup.output_dir).config_file.absolute())]
    argv += ["--quiet"] if quiet else []
    code = run_workers(argv, n_workers)
    if code != 0:
        raise HpoError(
            f"a worker exited with code {code}; see its output above. Completed trials are "
            f"kept: run the same command again to resume."
        )
    return study
