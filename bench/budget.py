"""Budget: does `hpo run --budget` keep its deadline, and what does each budget buy?

Runs the real command (``hpo run [CONFIG] --data DIR --budget B``) once per budget, each in a
fresh working folder (its own storage, runs and tokenization cache; the machine measurement is
shared, as it is on a user's machine after the first plan), times it from outside, and prints
per budget: minutes taken against the budget, the plan's main choices, the tuned model's test
accuracy, TF-IDF's on the same examples and McNemar's p between them, and the model shipped
(chosen on validation: tuned, TF-IDF or their blend) with its test accuracy and McNemar's p
against TF-IDF.

    python bench/budget.py --data ../shared/data/imdb --budget 60m
    python bench/budget.py --data ../shared/data/imdb --budget 15m 30m 60m 90m   # the curve
    python bench/budget.py --config study_configs/smoke.yaml --budget 2m

Results go to ``bench/results/<date>-<host>.budget.json``. Nothing else may run on the machine
meanwhile: the run keeps its deadline by the clock, so a busy machine buys a worse model.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _record  # bench/_record.py: commit, machine and results file of every benchmark

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _mcnemar_p(tuned: dict[str, Any], other: dict[str, Any], labels: list[int]) -> float | None:
    import numpy as np

    from hpo.final.scoring import mcnemar

    truth = np.asarray(labels)
    if len(tuned.get("predictions", [])) != len(truth) or len(other.get("predictions", [])) != len(
        truth
    ):
        return None
    result = mcnemar(
        np.asarray(tuned["predictions"]) == truth, np.asarray(other["predictions"]) == truth
    )
    return float(result["p_value"])


def seed_machine_cache(machine_cache: str | Path, cache: Path) -> None:
    """Copy the machine measurements of ``machine_cache`` into the run's ``cache``: the
    machine's rates are measured once per machine, as a user's first plan measures them,
    while the data's profile and tokenization start cold in every run."""
    measured = Path(machine_cache) / "machine"
    if measured.is_dir():
        (cache / "machine").mkdir(parents=True, exist_ok=True)
        for file in measured.glob("*.json"):
            shutil.copy(file, cache / "machine" / file.name)


def run_one(opts: argparse.Namespace, budget: str, root: Path) -> dict[str, Any]:
    """One ``hpo run --budget``, timed; its figures read back from the run's files."""
    work = root / re.sub(r"[^0-9a-z]+", "", budget.lower())
    work.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "hpo.cli", "run"]
    if opts.config:
        cmd.append(str(Path(opts.config).absolute()))
    if opts.data:
        cmd += ["--data", str(Path(opts.data).absolute())]
    cmd += ["--budget", budget, "--quiet", "--set", f"data.cache_dir={work / 'cache'}"]
    for item in opts.set or []:
        cmd += ["--set", item]
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    seed_machine_cache(opts.machine_cache, work / "cache")
    log = work / "run.log"
    start = time.time()
    with log.open("w") as out:
        code = subprocess.run(
            cmd, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT
        ).returncode
    seconds = time.time() - start
    if code != 0:
        return {"budget": budget, "exit_code": code, "seconds": round(seconds, 1), "log": str(log)}
    report = log.read_text().strip().splitlines()[-1].removeprefix("report: ")
    runs = (work / report).parent
    plan = json.loads((runs / "plan.json").read_text())
    tuned = json.loads((runs / "final" / "metrics.json").read_text())
    baselines = json.loads((runs / "baselines.json").read_text())
    classical = baselines["classical"]
    labels = _test_labels(runs)
    choices = {c["key"]: c["value"] for c in plan["choices"]}
    choice_file = runs / "final" / "choice.json"
    shipped: dict[str, Any] = {}
    if choice_file.is_file():
        made = json.loads(choice_file.read_text())
        chosen = made["test"][made["shipped"]]
        shipped = {
            "shipped": made["shipped"],
            "shipped_weight": made["weight"],
            "validation": made["validation"],
            "n_validation": made["n_validation"],
            "candidates_test_accuracy": {k: v["accuracy"] for k, v in made["test"].items()},
            "shipped_accuracy": chosen["accuracy"],
            "shipped_ci95": chosen["ci95"],
            "shipped_vs_classical_p": _mcnemar_p(chosen, classical, labels) if labels else None,
        }
    return {
        "budget": budget,
        "runs": str(runs),
        "search": plan.get("search"),
        "best_epoch": tuned.get("best_epoch"),
        "budget_seconds": plan["budget_seconds"],
        "seconds": round(seconds, 1),
        "ratio_to_budget": round(seconds / plan["budget_seconds"], 3),
        "planned_seconds": plan["planned_seconds"],
        "stages": {
            s["name"]: {"planned": s["seconds"], "actual": plan["actual_seconds"].get(s["name"])}
            for s in plan["stages"]
        },
        "events": plan.get("events", []),
        "checks": plan.get("checks"),
        "choices": choices,
        # The length the final stage trained at: the plan's, or the one its start chose.
        "trained_length": tuned.get("max_length"),
        "trials": tuned.get("source"),
        "stop_epoch": tuned.get("stop_epoch"),
        "tuned_accuracy": tuned["accuracy"],
        "tuned_ci95": tuned["ci95"],
        "classical_accuracy": classical["accuracy"],
        "mcnemar_p": _mcnemar_p(tuned, classical, labels) if labels else None,
        "n_test": tuned["n"],
        "train_samples_per_second": tuned.get("train_samples_per_second"),
        "test_samples_per_second": tuned.get("test_samples_per_second"),
        **shipped,
    }


def _test_labels(runs: Path) -> list[int]:
    """The test split's labels, in order, from the saved config (the report's own reading)."""
    from hpo.api import load_config
    from hpo.data.splits import final_splits

    config = load_config(runs / "config.yaml", check_training=False)
    return list(final_splits(config.data).splits["test"]["label"])


def summarize(rows: list[dict[str, Any]]) -> None:
    """Print one line per budget."""
    print(
        f"{'budget':>7}{'took':>8}{'x budget':>9}{'length':>8}{'trunc':>11}{'search':>8}"
        f"{'trials':>7}{'tuned':>8}{'TF-IDF':>8}{'p':>10}{'shipped':>11}{'acc':>8}{'p':>10}"
    )
    for r in rows:
        if "tuned_accuracy" not in r:
            print(f"{r['budget']:>7}  failed (exit {r['exit_code']}), see {r['log']}")
            continue
        c = r["choices"]
        p = r["mcnemar_p"]
        print(
            f"{r['budget']:>7}{r['seconds'] / 60:>7.1f}m{r['ratio_to_budget']:>9.3f}"
            f"{c.get('data.max_length')!s:>8}{c.get('data.truncation')!s:>11}"
            f"{c.get('data.max_train_samples')!s:>8}{c.get('study.n_trials')!s:>7}"
            f"{100 * r['tuned_accuracy']:>7.2f}%{100 * r['classical_accuracy']:>7.2f}%"
            f"{(f'{p:.2g}' if p is not None else '-'):>10}" + _shipped_cells(r)
        )


def _shipped_cells(r: dict[str, Any]) -> str:
    if "shipped" not in r:
        return f"{'-':>11}{'-':>8}{'-':>10}"
    p = r["shipped_vs_classical_p"]
    return (
        f"{r['shipped']:>11}{100 * r['shipped_accuracy']:>7.2f}%"
        f"{(f'{p:.2g}' if p is not None else '-'):>10}"
    )


def main() -> None:
    """Run each budget in turn, print the table, write the JSON record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="study YAML (default: the packaged default config)")
    parser.add_argument("--data", help="data folder (sets data.path)")
    parser.add_argument("--budget", nargs="+", required=True, help="one or more, e.g. 30m 60m")
    parser.add_argument("--set", action="append", help="passed to hpo run as --set")
    parser.add_argument("--workdir", help="keep the runs here (default: a temporary folder)")
    parser.add_argument(
        "--machine-cache",
        default=str(Path.home() / ".cache" / "hpo"),
        help="a cache folder whose machine/ measurements each run starts with (default: "
        "~/.cache/hpo, where `hpo plan` measures)",
    )
    parser.add_argument("--out", default=str(REPO / "bench" / "results"))
    opts = parser.parse_args()
    if not opts.config and not opts.data:
        parser.error("give --data DIR, --config FILE, or both")
    rows = []
    with tempfile.TemporaryDirectory(prefix="hpo-budget-") as tmp:
        root = Path(opts.workdir) if opts.workdir else Path(tmp)
        for budget in opts.budget:
            row = run_one(opts, budget, root)
            rows.append(row)
            print(json.dumps(row), flush=True)
    print()
    summarize(rows)
    _record.write(
        opts.out,
        "budget",
        {"config": opts.config, "data": opts.data, "sets": opts.set, "runs": rows},
    )


if __name__ == "__main__":
    main()
