"""Which storage for several workers on one machine? SQLite as is, SQLite in WAL mode with a busy
timeout (what hpo uses), or Optuna's JournalStorage file backend.

N processes each run trials that write like an hpo trial does (intermediate values, user attrs,
heartbeats), as fast as they can, so lock contention is far worse than in a real search where a
trial trains for minutes between writes. Prints, per backend: wall time, trials stored, trials
lost to storage errors, and errors seen. Run: python bench/storage_concurrency.py [--workers 4]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sqlite3
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import optuna

optuna.logging.set_verbosity(optuna.logging.ERROR)
warnings.filterwarnings("ignore")


def _storage(kind: str, folder: Path) -> Any:
    db = folder / "bench.db"
    if kind == "sqlite":
        # Python's sqlite3 default: rollback journal, 5 s busy timeout.
        return optuna.storages.RDBStorage(f"sqlite:///{db}", heartbeat_interval=1)
    if kind == "sqlite-wal":
        with sqlite3.connect(db) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
        return optuna.storages.RDBStorage(
            f"sqlite:///{db}",
            engine_kwargs={"connect_args": {"timeout": 60}},
            heartbeat_interval=1,
        )
    if kind == "journal":
        backend = optuna.storages.journal.JournalFileBackend(str(folder / "journal.log"))
        return optuna.storages.JournalStorage(backend)
    raise ValueError(kind)


def _worker(kind: str, folder: str, n_trials: int, reports: int, queue: Any) -> None:
    errors = 0
    done = 0
    for _ in range(n_trials):
        try:
            study = optuna.load_study(study_name="bench", storage=_storage(kind, Path(folder)))

            def objective(trial: optuna.Trial) -> float:
                x = trial.suggest_float("x", 0.0, 1.0)
                for step in range(reports):
                    trial.report(x * step, step)
                    trial.set_user_attr("evals", [x] * (step + 1))
                return x

            study.optimize(objective, n_trials=1)
            done += 1
        except Exception:
            errors += 1
    queue.put((done, errors))


def run(kind: str, workers: int, n_trials: int, reports: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        optuna.create_study(study_name="bench", storage=_storage(kind, Path(tmp)))
        queue: Any = mp.get_context("spawn").Queue()
        ctx = mp.get_context("spawn")
        start = time.perf_counter()
        procs = [
            ctx.Process(target=_worker, args=(kind, tmp, n_trials, reports, queue))
            for _ in range(workers)
        ]
        for p in procs:
            p.start()
        results = [queue.get() for _ in procs]
        for p in procs:
            p.join()
        wall = time.perf_counter() - start
        study = optuna.load_study(study_name="bench", storage=_storage(kind, Path(tmp)))
        complete = len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)))
    return {
        "backend": kind,
        "wall_s": round(wall, 2),
        "complete": complete,
        "expected": workers * n_trials,
        "errors": sum(e for _, e in results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--trials", type=int, default=25, help="trials per worker")
    parser.add_argument("--reports", type=int, default=6, help="evaluations per trial")
    args = parser.parse_args()
    print(f"{args.workers} workers x {args.trials} trials x {args.reports} reports each")
    print(f"{'backend':<12} {'wall_s':>7} {'complete':>9} {'expected':>9} {'errors':>7}")
    for kind in ("sqlite", "sqlite-wal", "journal"):
        r = run(kind, args.workers, args.trials, args.reports)
        print(
            f"{r['backend']:<12} {r['wall_s']:>7} {r['complete']:>9} {r['expected']:>9} "
            f"{r['errors']:>7}"
        )


if __name__ == "__main__":
    main()
