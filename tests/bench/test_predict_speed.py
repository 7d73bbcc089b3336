"""The predict-speed benchmark end to end on the tiny model: every way scores every text, and
the record holds the figures it printed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hpo.final.record import ModelRecord

pytest.importorskip("openvino")
pytest.importorskip("nncf")

REPO = Path(__file__).resolve().parents[2]


def test_every_way_is_measured_against_pytorch(
    tiny_models: dict[str, Path], tiny_data: Path, tmp_path: Path
) -> None:
    model = tmp_path / "model"
    shutil.copytree(tiny_models["bert"], model)
    ModelRecord(max_length=32, truncation="head+tail", labels=("neg", "pos")).write(model)
    ways = ["torch", "fast", "fast-calibrated", "fast-fp32"]
    command = [sys.executable, str(REPO / "bench" / "predict_speed.py"), str(model)]
    command += ["--data", str(tiny_data), "--limit", "40", "--out", str(tmp_path / "out")]
    done = subprocess.run(
        [*command, "--ways", *ways],
        capture_output=True,
        text=True,
        env=os.environ | {"HF_HUB_OFFLINE": "1"},
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("40 texts at 32 tokens (head+tail)")
    (record,) = (tmp_path / "out").glob("*.predict-speed.json")
    results = json.loads(record.read_text())["results"]
    assert list(results) == ways
    for way in ways:
        assert f"{way} " in done.stdout
        assert results[way]["texts_per_second"] > 0 and 0 <= results[way]["accuracy"] <= 1
    # The fp32 graph is PyTorch's model to float rounding: the same prediction on every text.
    assert results["fast-fp32"]["against_torch"]["same_prediction"] == 1.0
    assert results["torch"]["against_torch"]["mcnemar"]["p_value"] == 1.0
