"""The per-evaluation overhead benchmark on the tiny model: both parts are timed, set against
the planner's constant, and the storage is left as it was found."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def test_both_parts_are_measured_against_the_constant(
    tiny_models: dict[str, Path], tiny_data: Path, tmp_path: Path
) -> None:
    from hpo.plan.constants import EVAL_OVERHEAD_SECONDS

    out, db = tmp_path / "results", tmp_path / "storage.db"
    command = [sys.executable, str(REPO / "bench" / "eval_overhead.py"), "--data", str(tiny_data)]
    command += ["--model", str(tiny_models["bert"]), "--sizes", "4", "16", "32"]
    command += ["--repeats", "1", "--evaluations", "3", "--storage", f"sqlite:///{db}"]
    command += ["--out", str(out), "--set", f"data.cache_dir={tmp_path / 'cache'}"]
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    (record,) = [json.loads(p.read_text()) for p in out.glob("*.eval-overhead.json")]
    trainer, storage = record["trainer"], record["storage"]
    assert list(trainer["seconds_by_examples"]) == ["4", "16", "32"]
    assert all(s > 0 for s in trainer["seconds_by_examples"].values())
    assert math.isfinite(trainer["fixed_seconds_fit"])
    assert trainer["fixed_seconds_at_most"] == trainer["seconds_by_examples"]["4"]
    assert storage["storage"] == "sqlite" and storage["evaluations"] == 4 * 3
    assert record["charged_seconds"] == EVAL_OVERHEAD_SECONDS
    total = trainer["fixed_seconds_at_most"] + storage["seconds_per_evaluation"]
    assert record["measured_seconds"] == pytest.approx(total)
    assert "charged / measured" in done.stdout
    # The benchmark's study is deleted once timed: the storage holds no study of it.
    assert optuna.get_all_study_names(f"sqlite:///{db}") == []
