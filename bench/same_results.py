"""Same results before and after a change that should compute nothing differently.

For each shipped study (smoke, topics, pairs), at two commits, one after the other: ``hpo run``
without a budget in a fresh folder with fresh storage, then what it left (every trial's state,
params, value and evaluations; the final model's and the baselines' test predictions) and the
final model's answers through ``hpo predict`` and ``hpo.load_predictor``. Prints one line per
study and item, and exits 1 on any difference.

    python bench/same_results.py --before e30482d --after HEAD

Each commit runs from a git worktree of its own (``PYTHONPATH`` points at it), in the Python
environment that runs this script.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STUDIES = ("smoke", "topics", "pairs")
TEXTS = ["a great and moving film", "awful boring mess", "the plot was dull " * 20, "fine"]

#: Runs inside the worktree's Python path: the run, then what it left, as one JSON line.
COLLECT = r"""
import contextlib, csv, io, json, sys
from pathlib import Path
import optuna
import hpo
from hpo.cli.entry import main

study_name, config, texts = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
assert main(["run", config, "--quiet"]) == 0
optuna.logging.set_verbosity(optuna.logging.WARNING)
study = optuna.load_study(study_name=study_name, storage=f"sqlite:///storage/{study_name}.db")
run = Path("runs") / study_name
out = {"trials": [
    {"number": t.number, "state": t.state.name, "params": t.params, "value": t.value,
     "evals": [(e["epoch"], e["samples_seen"], e["value"]) for e in t.user_attrs.get("evals", [])]}
    for t in study.trials
]}
final = json.loads((run / "final" / "metrics.json").read_text())
out["final_predictions"] = final["predictions"]
baselines = json.loads((run / "baselines.json").read_text())
out["baseline_predictions"] = {
    k: v.get("predictions") for k, v in baselines.items() if isinstance(v, dict)
}
model = run / "final" / "model"
record = json.loads((model / "hpo_final.json").read_text())
argv = ["predict", str(model)]
given = texts
if record.get("text_pair_column"):
    given = [(t, t[::-1]) for t in texts]
    with open("pairs.csv", "w", newline="") as fh:
        rows = csv.writer(fh)
        rows.writerow([record["text_column"], record["text_pair_column"]])
        rows.writerows(given)
    argv += ["--file", "pairs.csv"]
else:
    argv += texts
printed = io.StringIO()
with contextlib.redirect_stdout(printed):
    assert main(argv) == 0
out["cli_predict"] = [json.loads(line) for line in printed.getvalue().splitlines()]
out["api_predict"] = hpo.load_predictor(model).predict(given)
print("RESULT " + json.dumps(out, sort_keys=True))
"""


def run_at(commit: str, work: Path) -> dict[str, dict]:
    """Every study's results at ``commit``."""
    tree = work / f"tree-{commit.replace('/', '_')}"
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), commit],
        check=True,
        capture_output=True,
    )
    results = {}
    try:
        for study in STUDIES:
            folder = work / f"run-{commit.replace('/', '_')}-{study}"
            folder.mkdir()
            env = {**os.environ, "PYTHONPATH": str(tree), "HF_HUB_OFFLINE": "1"}
            config = tree / "study_configs" / f"{study}.yaml"
            done = subprocess.run(
                [sys.executable, "-c", COLLECT, study, str(config), json.dumps(TEXTS)],
                cwd=folder,
                env=env,
                capture_output=True,
                text=True,
            )
            lines = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
            if done.returncode != 0 or not lines:
                raise SystemExit(f"{commit} {study}: failed\n{done.stderr[-3000:]}")
            results[study] = json.loads(lines[-1].removeprefix("RESULT "))
    finally:
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)],
            capture_output=True,
        )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the commit before the change")
    parser.add_argument("--after", default="HEAD", help="the commit after it (default HEAD)")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hpo-same-") as tmp:
        before = run_at(opts.before, Path(tmp))
        after = run_at(opts.after, Path(tmp))
    same = True
    for study in STUDIES:
        for key in sorted(set(before[study]) | set(after[study])):
            equal = before[study].get(key) == after[study].get(key)
            same &= equal
            size = before[study].get(key)
            count = f" ({len(size)})" if isinstance(size, list) else ""
            print(f"{study:7s} {key:22s} {'same' if equal else 'DIFFERENT'}{count}")
    print("same results" if same else "results differ")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
