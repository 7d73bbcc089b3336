"""The GPU check, run on the CPU with the tiny model so that it cannot rot before a GPU is at
hand: the pack is made and read back, the plan and the budgeted run happen, and the record
holds what the check promises."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def test_the_gpu_check_runs_from_a_pack(
    tiny_models: dict[str, Path], tiny_data: Path, tmp_path: Path
) -> None:
    pack, out = tmp_path / "pack", tmp_path / "results"
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", PYTHON=sys.executable)
    command = [sys.executable, str(REPO / "bench" / "gpu_data.py"), "pack"]
    command += ["--data", str(tiny_data), "--model", str(tiny_models["bert"])]
    command += ["--out", str(pack), "--train", "300", "--test", "100"]
    made = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert made.returncode == 0, made.stderr[-3000:]
    assert json.loads((pack / "pack.json").read_text())["examples"]["train"] <= 300
    check = ["bash", str(REPO / "bench" / "gpu_check.sh"), str(pack), "1m", str(out)]
    done = subprocess.run(check, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert "Plan for a budget of 1.0 min" in done.stdout
    (path,) = out.glob("*.gpu-check.json")
    record = json.loads(path.read_text())
    assert record["budget_seconds"] == 60 and record["wall_seconds"] > 0
    assert record["device"].startswith("cpu:") and record["train_samples_per_second"]
    names = [row["stage"] for row in record["stages"]]
    assert "final" in names and all("actual_minutes" in row for row in record["stages"])
    assert record["final_test_accuracy"] is not None
    assert record["machine"]["gpu"] is None  # as _record.machine found it
