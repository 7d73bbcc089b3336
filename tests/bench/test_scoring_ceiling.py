"""The scoring-ceiling benchmark on the tiny model: it counts the linear layers' work from the
config and times every precision at those shapes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hpo.final.record import ModelRecord

pytest.importorskip("onnxruntime")

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))


def test_the_linear_layers_of_bert_and_distilbert_configs() -> None:
    from scoring_ceiling import layer_shapes

    bert = {"hidden_size": 384, "intermediate_size": 1536, "num_hidden_layers": 6}
    distil = {"dim": 384, "hidden_dim": 1536, "n_layers": 6}
    expected = [(384, 384, 24), (384, 1536, 6), (1536, 384, 6)]
    assert layer_shapes(bert) == layer_shapes(distil) == expected
    with pytest.raises(SystemExit, match=r"config\.json"):
        layer_shapes({"d_model": 384})


def test_every_precision_gets_a_ceiling(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(tiny_models["bert"], model)
    ModelRecord(max_length=32, truncation="head+tail", labels=("neg", "pos")).write(model)
    config = json.loads((model / "config.json").read_text())
    command = [sys.executable, str(REPO / "bench" / "scoring_ceiling.py"), str(model)]
    command += ["--batch", "4", "--repeat", "2", "--target", "100"]
    done = subprocess.run(
        [*command, "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=os.environ | {"HF_HUB_OFFLINE": "1"},
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (record,) = (tmp_path / "out").glob("*.scoring-ceiling.json")
    result = json.loads(record.read_text())
    hidden, inner = config["hidden_size"], config["intermediate_size"]
    per_layer = 4 * hidden * hidden + 2 * hidden * inner
    assert result["length"] == 32
    assert result["ops_per_text"] == 2 * 32 * per_layer * config["num_hidden_layers"]
    assert set(result["precisions"]) == {"int8", "bf16", "fp32"}
    for precision, row in result["precisions"].items():
        assert row["ceiling_texts_per_second"] > 0, precision
        assert f"{row['ceiling_texts_per_second']:.1f}" in done.stdout
    assert "x the target 100" in done.stdout
