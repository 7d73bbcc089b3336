"""Two jobs on one machine: what OpenMP's wait policy does to a search alone and to two at once.

PyTorch's OpenMP threads spin while they wait for work. Two searches started together on the
same cores then starve each other far beyond the 2x that sharing costs (issue 12 saw 7.2x).
``hpo`` sets ``OMP_WAIT_POLICY=PASSIVE`` (``hpo/threads.py``). This script measures, each search
in a fresh process on a fresh study, with the tokenization cache warmed first:

* one search alone and two searches started together, under libgomp's default wait policy
  (``OMP_WAIT_POLICY`` unset) and under ``PASSIVE``;
* the slowdown of each of the pair against the lone search, with the goal of issue 12:
  two searches at once cost each at most 2.5x.

    python bench/shared_cores.py                          # the smoke study: about 6 minutes
    python bench/shared_cores.py --minilm ../shared/data/imdb   # MiniLM on IMDb, longer

Nothing else may run on the machine meanwhile. Results go to
``bench/results/shared-cores-<date>-<host>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
GOAL = 2.5
POLICIES = {"default": None, "PASSIVE": "PASSIVE"}

#: One search as hpo runs it, but through the library: the CLI would set the policy itself.
RUNNER = """
import sys, time
from hpo.config import load_config
from hpo.search import run_search
config = load_config(sys.argv[1], sys.argv[2:])
start = time.perf_counter()
study = run_search(config, quiet=True)
print(f"SECONDS {time.perf_counter() - start:.2f} TRIALS {len(study.trials)}")
"""


def _env(policy: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env |= {"TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    return env


def _start(config: str, overrides: list[str], work: Path, tag: str, policy: str | None) -> Any:
    argv = [
        *overrides,
        f"study.name={tag}",
        f"study.storage=sqlite:///{work / (tag + '.db')}",
        f"training.output_dir={work / tag}",
    ]
    return subprocess.Popen(
        [sys.executable, "-c", RUNNER, config, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(policy),
        cwd=REPO,
    )


def _finish(proc: Any) -> float:
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"a search failed ({proc.returncode}):\n{err[-3000:]}")
    line = next(x for x in out.splitlines() if x.startswith("SECONDS"))
    return float(line.split()[1])


def run_case(
    config: str, overrides: list[str], work: Path, policy_name: str, jobs: int, round_: int
) -> list[float]:
    """Wall seconds of each of ``jobs`` searches started together."""
    policy = POLICIES[policy_name]
    procs = [
        _start(config, overrides, work, f"{policy_name}-{jobs}-{round_}-{i}", policy)
        for i in range(jobs)
    ]
    return [_finish(p) for p in procs]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--minilm",
        metavar="IMDB",
        help="search the packaged MiniLM on this IMDb folder instead of the smoke study",
    )
    parser.add_argument("--n-trials", type=int, default=6, help="trials per search")
    parser.add_argument("--rounds", type=int, default=1, help="repeat each case this often")
    parser.add_argument("--output", help="results JSON (default bench/results/shared-cores-...)")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="hpo-shared-cores-"))
    cache = f"data.cache_dir={work / 'cache'}"
    if args.minilm:
        config = "study_configs/imdb_minilm.yaml"
        overrides = [
            f"data.path={Path(args.minilm).resolve()}",
            "data.max_train_samples=160",
            "data.max_eval_samples=64",
            "study.enqueue_reference=false",
            "study.pruner={type: none}",
        ]
    else:
        config = "study_configs/smoke.yaml"
        overrides = []
    overrides += [cache, f"study.n_trials={args.n_trials}"]
    print(f"warming the tokenization cache in {work} ...", flush=True)
    run_case(config, [*overrides, "study.n_trials=1"], work, "PASSIVE", 1, -1)

    results: dict[str, Any] = {"cases": {}}
    for policy in POLICIES:
        for jobs in (1, 2):
            times = []
            for round_ in range(args.rounds):
                times += run_case(config, overrides, work, policy, jobs, round_)
                print(f"{policy:8s} {jobs} at once: {times[-jobs:]}", flush=True)
            results["cases"][f"{policy}/{jobs}"] = times

    def mean(xs: list[float]) -> float:
        return sum(xs) / len(xs)

    print()
    print("| wait policy | one search alone, s | each of two at once, s | slowdown |")
    print("| --- | ---: | ---: | ---: |")
    summary = {}
    for policy in POLICIES:
        alone, pair = mean(results["cases"][f"{policy}/1"]), mean(results["cases"][f"{policy}/2"])
        worst = max(results["cases"][f"{policy}/2"]) / alone
        summary[policy] = {"alone_s": alone, "pair_each_s": pair, "slowdown_worst": worst}
        print(f"| {policy} | {alone:.1f} | {pair:.1f} | {worst:.2f}x |")
    ratio = summary["PASSIVE"]["alone_s"] / summary["default"]["alone_s"]
    print(f"\nalone, PASSIVE / default: {ratio:.3f}")
    met = summary["PASSIVE"]["slowdown_worst"] <= GOAL
    print(f"goal (each of two at once <= {GOAL}x its time alone): {'met' if met else 'NOT met'}")
    results |= {
        "summary": summary,
        "alone_passive_over_default": ratio,
        "goal_met": met,
        "study": "MiniLM on IMDb" if args.minilm else "smoke",
        "n_trials": args.n_trials,
        "host": socket.gethostname(),
        "cpus": os.cpu_count(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO
        ).stdout.strip(),
    }
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    kind = "minilm" if args.minilm else "smoke"
    out = Path(args.output or REPO / "bench" / "results" / f"shared-cores-{kind}-{day}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    started = time.perf_counter()
    code = main()
    print(f"({time.perf_counter() - started:.0f} s in all)")
    sys.exit(code)
