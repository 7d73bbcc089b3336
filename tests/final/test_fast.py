"""Fast CPU scoring: the int8 ONNX model answers like the PyTorch one, and says when it is
missing or stale."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from hpo.errors import ModelError
from hpo.final.fast import FAST_DIR, FAST_MODEL, export, quantize
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

    names = export(folder, tmp_path / "model.onnx")
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
    assert quantize(folder) == path  # up to date: not done again
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
