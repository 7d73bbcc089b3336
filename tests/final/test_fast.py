"""Fast CPU scoring: the int8 ONNX model answers like the PyTorch one, and says when it is
missing or stale."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

import onnx

import hpo.final.fast as fast
from hpo.errors import ModelError
from hpo.final.fast import FAST_DIR, FAST_MODEL, FAST_RECORD, export, quantize
from hpo.final.predict import Predictor

TEXTS = ["a great and moving film", "awful boring mess", "fine", "the plot was dull " * 20]


def test_the_exported_graph_computes_what_the_pytorch_model_does(
    folder: Path, tmp_path: Path
) -> None:
    """fp32 against fp32, on a padded batch of other lengths than the export's sample: only
    float rounding may differ. A graph fed its inputs in the wrong order (the attention mask
    as token types) differs far beyond that."""
    import onnxruntime
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    sample, _ = export(folder, tmp_path / "model.onnx")
    names = list(sample)
    assert names == ["input_ids", "attention_mask", "token_type_ids"]
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    assert (batch["attention_mask"] == 0).any() and (batch["token_type_ids"] == 0).all()
    model = AutoModelForSequenceClassification.from_pretrained(str(folder)).eval()
    with torch.inference_mode():
        expected = model(**batch).logits.numpy()
    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"))
    got = session.run(["logits"], {n: batch[n].numpy() for n in names})[0]
    assert np.abs(got - expected).max() < 1e-4, np.abs(got - expected).max()


def test_the_int8_model_scores_like_the_pytorch_one(folder: Path) -> None:
    with pytest.raises(ModelError, match=r"no fast model .* Run `hpo quantize"):
        Predictor(folder, fast=True)
    path = quantize(folder)
    assert path == folder / FAST_DIR / FAST_MODEL and path.is_file()
    made = json.loads((folder / FAST_DIR / FAST_RECORD).read_text())
    assert made["int8"] and made["per_channel"] and made["fused"]  # the tiny BERT fuses
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert {"QAttention", "SkipLayerNormalization"} <= ops, ops
    stamp = path.stat().st_mtime_ns
    assert quantize(folder) == path and path.stat().st_mtime_ns == stamp  # up to date
    slow = Predictor(folder).predict(TEXTS)
    fast = Predictor(folder, fast=True).predict(TEXTS)
    assert [r["text"] for r in fast] == [r["text"] for r in slow]  # in the texts' order
    p_slow = np.asarray([list(r["probabilities"].values()) for r in slow])
    p_fast = np.asarray([list(r["probabilities"].values()) for r in fast])
    assert np.abs(p_slow - p_fast).max() < 0.05


def test_a_model_retrained_after_quantizing_is_refused(folder: Path) -> None:
    quantize(folder)
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # other weights: the last byte of the last tensor
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="made from other weights"):
        Predictor(folder, fast=True)


def test_predict_fast_from_the_command_line(folder: Path, capsys) -> None:
    from hpo.cli import main

    assert main(["quantize", str(folder)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(["predict", "--fast", str(folder), *TEXTS[:2]]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all('"label"' in line for line in lines)
    assert main(["quantize", str(folder.parent / "nothing")]) == 2


def test_a_fused_graph_that_computes_otherwise_is_dropped(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fusions are ONNX Runtime's pattern matching over the exported graph: where they
    would change the logits, the plain graph is kept, still in int8."""
    real = fast._fused

    def wrong(folder_: Path, plain: Path, path: Path) -> Path | None:
        fused = real(folder_, plain, path)
        model = onnx.load(str(fused))
        for init in model.graph.initializer:  # every weight of the fused graph doubled
            if init.data_type == onnx.TensorProto.FLOAT and init.raw_data:
                values = np.frombuffer(init.raw_data, dtype=np.float32) * 2
                init.raw_data = values.astype(np.float32).tobytes()
        onnx.save(model, str(path))
        return path

    monkeypatch.setattr(fast, "_fused", wrong)
    path = quantize(folder, fuse=True)
    made = json.loads((folder / FAST_DIR / FAST_RECORD).read_text())
    assert made["fuse"] and not made["fused"]
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert not {"QAttention", "SkipLayerNormalization"} & ops and "MatMulInteger" in ops, ops


def test_an_export_that_computes_otherwise_is_refused(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = fast._torch_logits
    monkeypatch.setattr(fast, "_torch_logits", lambda m, b: real(m, b) + 0.5)
    with pytest.raises(ModelError, match=r"computes other logits than PyTorch .* plain"):
        quantize(folder)
    assert not (folder / FAST_DIR / FAST_MODEL).exists()


def test_the_fp32_graph_scores_as_pytorch_does(folder: Path) -> None:
    """``int8=False``: the fused fp32 graph, the same predictions as PyTorch to float
    rounding."""
    quantize(folder, int8=False)
    slow = Predictor(folder).predict(TEXTS)
    quick = Predictor(folder, fast=True).predict(TEXTS)
    p_slow = np.asarray([list(r["probabilities"].values()) for r in slow])
    p_quick = np.asarray([list(r["probabilities"].values()) for r in quick])
    assert np.abs(p_slow - p_quick).max() < 1e-5
    assert quantize(folder, int8=True) == folder / FAST_DIR / FAST_MODEL  # made again
    assert json.loads((folder / FAST_DIR / FAST_RECORD).read_text())["int8"]


def test_a_distilbert_model_is_checked_and_fused_too(
    tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    """Another family than BERT's (no token types, its own attention code)."""
    from hpo.final.record import ModelRecord

    folder = tmp_path / "distilbert"
    shutil.copytree(tiny_models["distilbert"], folder)
    ModelRecord(max_length=48, truncation="head+tail", labels=("neg", "pos")).write(folder)
    quantize(folder, int8=False)
    assert json.loads((folder / FAST_DIR / FAST_RECORD).read_text())["fused"]
    slow = Predictor(folder).predict(TEXTS)
    quick = Predictor(folder, fast=True).predict(TEXTS)
    assert [r["label"] for r in quick] == [r["label"] for r in slow]
    p_slow = np.asarray([list(r["probabilities"].values()) for r in slow])
    p_quick = np.asarray([list(r["probabilities"].values()) for r in quick])
    assert np.abs(p_slow - p_quick).max() < 1e-5
