"""Fast CPU scoring: the int8 OpenVINO model answers like the PyTorch one, and says when it
is missing or stale."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("openvino")
pytest.importorskip("nncf")
pytest.importorskip("onnx")

import openvino

import hpo.export.onnx as onnx_export
from hpo.data.truncation import encode
from hpo.errors import ModelError
from hpo.export.openvino import FAST_DIR, FAST_MODEL, FAST_RECORD, quantize
from hpo.final.predict import Predictor

TEXTS = ["a great and moving film", "awful boring mess", "fine", "the plot was dull " * 20]


def _probabilities(rows: list[dict]) -> np.ndarray:
    return np.asarray([list(r["probabilities"].values()) for r in rows])


def _ops(path: Path) -> set[str]:
    return {op.get_type_name() for op in openvino.Core().read_model(str(path)).get_ops()}


def _int8_constants(path: Path) -> int:
    model = openvino.Core().read_model(str(path))
    return sum(
        op.get_type_name() == "Constant" and op.get_element_type() == openvino.Type.i8
        for op in model.get_ops()
    )


def _calibration(folder: Path, n: int) -> dict[str, list[list[int]]]:
    from transformers import AutoTokenizer

    words = ["good", "bad", "film", "plot", "dull", "moving", "great", "awful", "the", "a"]
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(words, size=rng.integers(3, 60))) for _ in range(n)]
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    return encode(tokenizer, texts, max_length=48, truncation="head+tail")


def test_the_int8_model_scores_like_the_pytorch_one(folder: Path) -> None:
    with pytest.raises(ModelError, match=r"no fast model .* Run `hpo quantize"):
        Predictor(folder, fast=True)
    path = quantize(folder)
    assert path == folder / FAST_DIR / FAST_MODEL and path.is_file()
    made = json.loads((folder / FAST_DIR / FAST_RECORD).read_text())
    assert made["int8"] and made["calibration"] is None
    assert made["activations"] == "dynamic" and made["dynamic_group"] == 32  # hidden size
    assert _int8_constants(path) >= 6 * 2  # two layers' q, k, v, out, up and down weights
    stamp = path.stat().st_mtime_ns
    assert quantize(folder) == path and path.stat().st_mtime_ns == stamp  # up to date
    slow = Predictor(folder).predict(TEXTS)
    quick = Predictor(folder, fast=True).predict(TEXTS)
    assert [r["text"] for r in quick] == [r["text"] for r in slow]  # in the texts' order
    assert np.abs(_probabilities(slow) - _probabilities(quick)).max() < 0.05
    # One text a batch: more batches than requests in flight, each answer in its place.
    one_by_one = Predictor(folder, fast=True).predict(TEXTS * 5, batch_size=1)
    assert [r["text"] for r in one_by_one] == [r["text"] for r in quick] * 5
    assert np.abs(_probabilities(one_by_one) - _probabilities(quick * 5)).max() < 0.01


def test_a_calibrated_model_quantizes_activations_and_records_its_agreement(
    folder: Path,
) -> None:
    """With calibration texts every matrix product is int8 (FakeQuantize nodes on the
    activations, their ranges measured); the texts past the first 300 measure it."""
    calibration = _calibration(folder, 340)
    path = quantize(folder, calibration=calibration)
    made = json.loads((folder / FAST_DIR / FAST_RECORD).read_text())
    assert made["activations"] == "calibrated" and made["calibration"]
    assert made["calibration_texts"] == 300 and made["held_out_texts"] == 40
    assert 0.0 <= made["agreement"] <= 1.0
    assert "FakeQuantize" in _ops(path)
    slow = Predictor(folder).predict(TEXTS)
    quick = Predictor(folder, fast=True).predict(TEXTS)
    assert np.abs(_probabilities(slow) - _probabilities(quick)).max() < 0.05
    # Other calibration texts: made again. None: back to weights only.
    stamp = path.stat().st_mtime_ns
    quantize(folder, calibration=_calibration(folder, 20))
    assert path.stat().st_mtime_ns != stamp
    quantize(folder)
    assert "FakeQuantize" not in _ops(path)


def test_a_model_retrained_after_quantizing_is_refused(folder: Path) -> None:
    quantize(folder)
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # other weights: the last byte of the last tensor
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="made from other weights"):
        Predictor(folder, fast=True)


def test_predict_fast_from_the_command_line(folder: Path, tmp_path: Path, capsys) -> None:
    from hpo.cli import main

    assert main(["quantize", str(folder)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(["predict", "--fast", str(folder), *TEXTS[:2]]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all('"label"' in line for line in lines)
    assert main(["quantize", str(folder.parent / "nothing")]) == 2

    table = tmp_path / "train.jsonl"
    table.write_text("".join(json.dumps({"review": t}) + "\n" for t in TEXTS * 100))
    assert main(["quantize", str(folder), "--calibrate", str(table)]) == 2
    err = capsys.readouterr().err
    assert f"quantize: {table} row 1 has no column 'text'" in err and "--text-column" in err
    assert (
        main(["quantize", str(folder), "--calibrate", str(table), "--text-column", "review"]) == 0
    )
    out = capsys.readouterr().out
    assert f"of 100 texts of {table} it was not calibrated on" in out and "wrote" in out
    few = tmp_path / "few.txt"
    few.write_text("\n".join(TEXTS * 10))
    assert main(["quantize", str(folder), "--calibrate", str(few)]) == 0
    assert "no texts past the 40 calibrated on" in capsys.readouterr().out


def test_an_export_that_computes_otherwise_is_refused(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = onnx_export.torch_logits
    monkeypatch.setattr(onnx_export, "torch_logits", lambda m, b: real(m, b) + 0.5)
    with pytest.raises(ModelError, match=r"computes other logits than PyTorch .* plain"):
        quantize(folder)
    assert not (folder / FAST_DIR / FAST_MODEL).exists()


def test_the_fp32_model_scores_as_pytorch_does(folder: Path) -> None:
    """``int8=False``: the exported graph in fp32, the same predictions as PyTorch to float
    rounding."""
    quantize(folder, int8=False)
    slow = Predictor(folder).predict(TEXTS)
    quick = Predictor(folder, fast=True).predict(TEXTS)
    assert np.abs(_probabilities(slow) - _probabilities(quick)).max() < 1e-5
    assert quantize(folder, int8=True) == folder / FAST_DIR / FAST_MODEL  # made again
    assert json.loads((folder / FAST_DIR / FAST_RECORD).read_text())["int8"]


def test_a_distilbert_model_is_checked_too(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    """Another family than BERT's (no token types, its own attention code)."""
    from hpo.final.record import ModelRecord

    folder = tmp_path / "distilbert"
    shutil.copytree(tiny_models["distilbert"], folder)
    ModelRecord(max_length=48, truncation="head+tail", labels=("neg", "pos")).write(folder)
    quantize(folder, int8=False)
    slow = Predictor(folder).predict(TEXTS)
    quick = Predictor(folder, fast=True).predict(TEXTS)
    assert [r["label"] for r in quick] == [r["label"] for r in slow]
    assert np.abs(_probabilities(slow) - _probabilities(quick)).max() < 1e-5
    quantize(folder)
    made = json.loads((folder / FAST_DIR / FAST_RECORD).read_text())
    assert made["dynamic_group"] > 0 and _int8_constants(folder / FAST_DIR / FAST_MODEL)
