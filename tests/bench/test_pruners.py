"""The pruner benchmark on the tiny model: one plan, the same search under each pruner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def test_each_pruner_runs_the_planned_search(
    tiny_models: dict[str, Path], tiny_data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "results"
    command = [sys.executable, str(REPO / "bench" / "pruners.py"), "--data", str(tiny_data)]
    command += ["--model", str(tiny_models["bert"]), "--budget", "2m"]
    command += ["--machine-cache", str(tmp_path / "no-cache"), "--workdir", str(tmp_path / "w")]
    command += ["--out", str(out), "--set", "study.n_trials=2"]
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    (record,) = [json.loads(p.read_text()) for p in out.glob("*.pruners.json")]
    rows = record["results"]
    assert list(rows) == ["median", "successive-halving", "hyperband", "top-third"]
    # The first is the planner's own pruner, taken from the plan, not written down here.
    assert rows["median"]["pruner"] == record["plan_choices"]["study.pruner"]
    assert rows["median"]["pruner"]["type"] == "MedianPruner"
    assert rows["hyperband"]["pruner"] == {"type": "HyperbandPruner"}
    # Keep the top third, after the median pruner's own start-up trials.
    top = rows["top-third"]["pruner"]
    assert top["type"] == "PercentilePruner" and top["percentile"] == 33.3
    assert top["n_startup_trials"] == rows["median"]["pruner"]["n_startup_trials"]
    for name, row in rows.items():
        assert row["trials"] == record["n_trials"] == 2, name
        assert row["completed"] + row["pruned"] == row["trials"], name
        assert row["best_value"] is not None and row["examples_trained"] > 0, name
    assert rows["median"]["time_vs_median"] == 1.0
    assert "successive-halving" in done.stdout and "x time" in done.stdout
    # Each search's study is deleted once measured: the benchmark leaves no studies behind.
    for db in (tmp_path / "w" / "storage").glob("*.db"):
        assert optuna.get_all_study_names(f"sqlite:///{db}") == []
