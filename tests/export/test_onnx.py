"""The ONNX export: the graph computes what the PyTorch model does, and its fingerprint follows
the weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("openvino")
pytest.importorskip("onnx")

import openvino

from hpo.errors import ModelError
from hpo.export.onnx import export, weights_fingerprint

TEXTS = ["a great and moving film", "awful boring mess", "fine", "the plot was dull " * 20]


def test_the_exported_graph_computes_what_the_pytorch_model_does(
    folder: Path, tmp_path: Path
) -> None:
    """fp32 against fp32, on a padded batch of other lengths than the export's sample: only
    float rounding may differ. A graph fed its inputs in the wrong order (the attention mask
    as token types) differs far beyond that."""
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
    core = openvino.Core()
    compiled = core.compile_model(
        str(tmp_path / "model.onnx"), "CPU", {"INFERENCE_PRECISION_HINT": "f32"}
    )
    got = compiled({n: batch[n].numpy() for n in names})[0]
    assert np.abs(got - expected).max() < 1e-4, np.abs(got - expected).max()


def test_the_fingerprint_follows_the_weights(folder: Path) -> None:
    before = weights_fingerprint(folder)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x00")
    assert weights_fingerprint(folder) != before
    weights.unlink()
    with pytest.raises(ModelError, match="no weights"):
        weights_fingerprint(folder)
