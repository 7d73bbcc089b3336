"""Many workers on one PostgreSQL: trials per minute and database connections, and how long a
lost host's trial waits before it is rerun.

For each worker count (1, 4, 8, 16 by default), starts that many ``hpo worker`` processes at
once on a new study of the shipped smoke config (tiny random BERT, synthetic reviews) with
``n_trials`` trials, and prints the wall time from the first start to the last exit, trials per
minute, and the peak connections the study's database saw (``pg_stat_activity``, sampled every
0.2 s). Then starts two workers with the heartbeat (default 10 s) and grace period (default 30 s),
kills one with SIGKILL in the middle of a trial, and prints the seconds from the kill until
its trial's params start again on the other worker.

    python bench/cluster.py --storage postgresql://postgres@127.0.0.1:5432/hpo_bench

The storage's database must exist; each run makes new studies in it. Workers share the
machine's cores (``OMP_NUM_THREADS`` = cores / workers, at least 1), so on a small machine the
figures measure the coordination, not training throughput. Nothing else may run meanwhile.
Results go to ``bench/results/<date>-<host>.cluster.json``.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import _record  # bench/_record.py: commit, machine and results file of every benchmark

REPO = Path(__file__).resolve().parent.parent
SMOKE = REPO / "study_configs" / "smoke.yaml"


def _workers(n: int, url: str, name: str, n_trials: int, extra: list[str]) -> list[Any]:
    threads = str(max(1, (os.cpu_count() or 1) // n))
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    argv = [sys.executable, "-m", "hpo.cli", "worker", str(SMOKE), "--storage", url]
    argv += ["--study-name", name, "--n-trials", str(n_trials), "--quiet", *extra]
    return [
        subprocess.Popen(
            argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        for _ in range(n)
    ]


class PeakConnections:
    """Samples the connections to the storage's database in a thread."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        self.db = make_url(url).database
        self.engine = create_engine(url, pool_size=1)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        from sqlalchemy import text

        query = text("SELECT count(*) FROM pg_stat_activity WHERE datname = :db AND pid <> :me")
        # Outside a transaction: inside one, PostgreSQL answers every read of pg_stat_activity
        # from the snapshot its first read took.
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            me = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            while not self._stop.wait(0.2):
                n = conn.execute(query, {"db": self.db, "me": me}).scalar_one()
                self.peak = max(self.peak, int(n))

    def __enter__(self) -> PeakConnections:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.engine.dispose()


def throughput(url: str, n_workers: int, n_trials: int) -> dict[str, Any]:
    """Wall time, trials per minute and peak connections of ``n_workers`` on one study."""
    import optuna
    from optuna.trial import TrialState

    from hpo.search.resilient import fail_reason

    name = f"bench-cluster-{n_workers}-{random.randrange(10**9)}"
    with PeakConnections(url) as peak:
        began = time.perf_counter()
        procs = _workers(n_workers, url, name, n_trials, [])
        codes = [p.wait() for p in procs]
        seconds = time.perf_counter() - began
    errors = [p.stderr.read()[-500:] for p, c in zip(procs, codes, strict=True) if c != 0]
    study = optuna.load_study(study_name=name, storage=url)
    states = [t.state for t in study.trials]
    finished = states.count(TrialState.COMPLETE) + states.count(TrialState.PRUNED)
    # Why a trial failed, for a run that should have failed none: the workers' output is kept
    # only when they exit with an error, and a failed trial need not make them.
    reasons = [
        fail_reason(study, t) or "no reason recorded"
        for t in study.trials
        if t.state == TrialState.FAIL
    ]
    return {
        "workers": n_workers,
        "n_trials": n_trials,
        "finished": finished,
        "failed": states.count(TrialState.FAIL),
        "fail_reasons": reasons,
        "seconds": round(seconds, 1),
        "trials_per_minute": round(60 * finished / seconds, 2),
        "peak_connections": peak.peak,
        "worker_errors": errors,
    }


def loss_to_rerun(url: str, heartbeat: int, grace: int, n_trials: int = 6) -> dict[str, Any]:
    """Seconds from a host's SIGKILL mid-trial until its trial's params run again elsewhere,
    with ``heartbeat`` s between heartbeats and ``grace`` s before a silent trial is failed."""
    import optuna
    from optuna.trial import TrialState

    name = f"bench-loss-{random.randrange(10**9)}"
    # Trials of several epochs, so the kill lands mid-trial and the rerun is not the last.
    extra = ["--set", "search_space.num_train_epochs={type: int, low: 4, high: 5}"]
    extra += ["--set", f"study.heartbeat_interval={heartbeat}"]
    extra += ["--set", f"study.grace_period={grace}"]
    victim, other = _workers(2, url, name, n_trials, extra)
    deadline = time.monotonic() + 600
    running: list[Any] = []
    while time.monotonic() < deadline:
        try:
            trials = optuna.load_study(study_name=name, storage=url).trials
        except KeyError:
            trials = []
        running = [t for t in trials if t.state == TrialState.RUNNING and t.intermediate_values]
        if len(running) == 2:
            break
        time.sleep(0.2)
    # The victim's trial: the one whose heartbeat stops. Kill it, then find which went stale.
    victim.send_signal(signal.SIGKILL)
    killed_at = time.time()
    victim.wait()
    rerun_started = None
    lost = None
    while time.monotonic() < deadline and rerun_started is None:
        study = optuna.load_study(study_name=name, storage=url)
        for trial in study.trials:
            source = trial.system_attrs.get("failed_trial")
            if source is not None and trial.datetime_start is not None:
                lost = source
                rerun_started = trial.datetime_start.timestamp()
                break
        time.sleep(0.2)
    other.wait()
    return {
        "heartbeat_interval_s": heartbeat,
        "grace_period_s": grace,
        "lost_trial": lost,
        "seconds_to_rerun": None if rerun_started is None else round(rerun_started - killed_at, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", required=True, help="postgresql://... (database exists)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--n-trials", type=int, default=16)
    parser.add_argument("--heartbeat", type=int, default=10, help="study.heartbeat_interval")
    parser.add_argument("--grace", type=int, default=30, help="study.grace_period")
    parser.add_argument("--out", default=str(REPO / "bench" / "results"))
    opts = parser.parse_args()
    rows = []
    for n in opts.workers:
        row = throughput(opts.storage, n, opts.n_trials)
        rows.append(row)
        print(
            f"{n:3d} workers: {row['finished']}/{row['n_trials']} finished, {row['failed']} "
            f"failed, {row['seconds']:7.1f} s, {row['trials_per_minute']:6.2f} trials/min, "
            f"peak {row['peak_connections']} connections",
            flush=True,
        )
    loss = loss_to_rerun(opts.storage, opts.heartbeat, opts.grace)
    print(
        f"host lost mid-trial (heartbeat {loss['heartbeat_interval_s']} s, grace "
        f"{loss['grace_period_s']} s): rerun started {loss['seconds_to_rerun']} s after the kill"
    )
    _record.write(opts.out, "cluster", {"throughput": rows, "loss_to_rerun": loss})


if __name__ == "__main__":
    main()
