"""Two jobs on one machine: what OpenMP's spinning does to a search alone and to two at once.

PyTorch's OpenMP threads spin while they wait for work. Two searches started together on the
same cores then starve each other far beyond the 2x that sharing costs (issue 12 saw 7.2x).
This script measures, each search in a fresh process on a fresh study, with the tokenization
cache warmed first, under three settings: libgomp's default (``OMP_WAIT_POLICY`` and
``GOMP_SPINCOUNT`` unset), no spinning (``OMP_WAIT_POLICY=PASSIVE``), and what hpo sets
(``hpo/cli/threads.py``):

* one search alone, and two searches started together;
* the slowdown of each of the pair against the lone search under the same setting, with the
  goal of issue 12: two searches at once cost each at most 2.5x; and hpo's lone search
  against libgomp's default (it must stay as fast).

    python bench/shared_cores.py --minilm ../shared/data/imdb --rounds 2   # about 9 minutes
    python bench/shared_cores.py                 # the tiny smoke study (noisy: tiny steps)

Nothing else may run on the machine meanwhile. Results go to
``bench/results/shared-cores-<study>-<date>.json``.
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

import _record  # bench/_record.py: commit, machine and results file of every benchmark

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from hpo.cli.threads import SPIN_SETTING  # noqa: E402  (this file runs as a script)

GOAL = 2.5
#: name -> environment variables (libgomp reads OMP_WAIT_POLICY and GOMP_SPINCOUNT at start):
#: libgomp's own default, no spinning at all, and what hpo sets (hpo/cli/threads.py).
POLICIES: dict[str, dict[str, str]] = {
    "libgomp default": {},
    "OMP_WAIT_POLICY=PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"},
    "hpo: " + ",".join(f"{k}={v}" for k, v in SPIN_SETTING.items()): dict(SPIN_SETTING),
}

#: One search as hpo runs it, but through the library: the CLI would set the policy itself.
RUNNER = """
import sys, time
from hpo.api import load_config, run_search
config = load_config(sys.argv[1], sys.argv[2:])
start = time.perf_counter()
study = run_search(config, quiet=True)
print(f"SECONDS {time.perf_counter() - start:.2f} TRIALS {len(study.trials)}")
"""


def _env(policy: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    return env | {"TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"} | policy


def _start(config: str, overrides: list[str], work: Path, tag: str, policy: dict[str, str]) -> Any:
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
    index = list(POLICIES).index(policy_name)
    procs = [
        _start(config, overrides, work, f"p{index}-{jobs}-{round_}-{i}", policy)
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
    parser.add_argument(
        "--policy",
        action="append",
        default=[],
        metavar="NAME=VAR=VALUE[,VAR=VALUE]",
        help="one more setting to measure, e.g. spin10k=GOMP_SPINCOUNT=10000",
    )
    parser.add_argument("--output", help="results JSON (default bench/results/shared-cores-...)")
    args = parser.parse_args(argv)
    for item in args.policy:
        name, _, assignments = item.partition("=")
        POLICIES[name] = dict(a.split("=", 1) for a in assignments.split(","))

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
    run_case(config, [*overrides, "study.n_trials=1"], work, next(iter(POLICIES)), 1, -1)

    results: dict[str, Any] = {"cases": {}}
    for policy in POLICIES:
        for jobs in (1, 2):
            times = []
            for round_ in range(args.rounds):
                times += run_case(config, overrides, work, policy, jobs, round_)
                print(f"{policy}, {jobs} at once: {times[-jobs:]}", flush=True)
            results["cases"][f"{policy}/{jobs}"] = times

    def mean(xs: list[float]) -> float:
        return sum(xs) / len(xs)

    print()
    print("| setting | one search alone, s | each of two at once, s | slowdown |")
    print("| --- | ---: | ---: | ---: |")
    summary = {}
    for policy in POLICIES:
        alone, pair = mean(results["cases"][f"{policy}/1"]), mean(results["cases"][f"{policy}/2"])
        worst = max(results["cases"][f"{policy}/2"]) / alone
        summary[policy] = {"alone_s": alone, "pair_each_s": pair, "slowdown_worst": worst}
        print(f"| {policy} | {alone:.1f} | {pair:.1f} | {worst:.2f}x |")
    names = list(POLICIES)
    default, ours = summary[names[0]], summary[names[2]]
    ratio = ours["alone_s"] / default["alone_s"]
    print(f"\nalone, {names[2]} / {names[0]}: {ratio:.3f}")
    met = ours["slowdown_worst"] <= GOAL
    print(f"goal (each of two at once <= {GOAL}x its time alone): {'met' if met else 'NOT met'}")
    results |= {
        "summary": summary,
        "alone_hpo_over_default": ratio,
        "goal_met": met,
        "policies": POLICIES,
        "study": "MiniLM on IMDb" if args.minilm else "smoke",
        "n_trials": args.n_trials,
        "host": socket.gethostname(),
        "cpus": os.cpu_count(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _record.commit(),
        "machine": _record.machine(),
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
