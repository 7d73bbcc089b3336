"""The final model as an ONNX graph: PyTorch's own exporter, fp32, batch and length dynamic.

:func:`export` writes the graph and hands back the padded sample it traced with PyTorch's
logits for it, so whoever runs the graph (:mod:`hpo.export.openvino`) can hold it to them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from hpo.errors import HpoError, ModelError

#: The ONNX opset the export targets (OpenVINO's ONNX reader has taken it for years).
OPSET = 17
#: The extra that brings the export and OpenVINO.
INSTALL = "pip install 'hpo-tune[fast]'"
#: Texts of several lengths, padded as one batch, for the export and its check.
SAMPLE = [
    "an example text",
    "another one, somewhat longer than the first, with punctuation and a number: 42.",
    "short",
]


def weights_fingerprint(model_dir: Path) -> str:
    """What the exported model was made from: the weight file's size and first and last MiB
    (hashing all of a large file at every predict would cost more than it checks)."""
    weights = model_dir / "model.safetensors"
    if not weights.is_file():
        raise ModelError(f"{model_dir}: no weights (model.safetensors) to export.")
    size = weights.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with weights.open("rb") as fh:
        digest.update(fh.read(2**20))
        fh.seek(max(0, size - 2**20))
        digest.update(fh.read(2**20))
    return digest.hexdigest()[:20]


def export(folder: Path, path: Path) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Export the model of ``folder`` to ONNX at ``path`` in fp32, batch and length dynamic.

    Returns the padded sample batch it was traced on (the graph's inputs, in the order of the
    model's ``forward``) and PyTorch's logits for it, to hold the graph to."""
    import inspect

    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    try:
        import onnx  # noqa: F401  (the exporter writes through it)
    except ImportError:
        raise HpoError(f"exporting to ONNX needs the onnx package: {INSTALL}.") from None
    model = AutoModelForSequenceClassification.from_pretrained(
        str(folder), attn_implementation="eager"
    )
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    sample = tokenizer(SAMPLE, padding=True, return_tensors="pt")
    # The exporter passes its inputs by position: in the order of ``forward``'s parameters,
    # not the tokenizer's (BERT's tokenizer lists token_type_ids before attention_mask, its
    # forward the other way round, and a graph fed them swapped scores wrongly, silently).
    names = [n for n in inspect.signature(model.forward).parameters if n in sample]
    axes = {n: {0: "batch", 1: "tokens"} for n in names} | {"logits": {0: "batch"}}
    with torch.inference_mode():
        torch.onnx.export(
            model,
            tuple(sample[n] for n in names),
            str(path),
            input_names=names,
            output_names=["logits"],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
    batch = {n: sample[n].numpy().astype(np.int64) for n in names}
    return batch, torch_logits(model, batch)


def torch_logits(model: Any, batch: dict[str, np.ndarray]) -> np.ndarray:
    """PyTorch's logits for a batch of numpy inputs, as float32."""
    import torch

    with torch.inference_mode():
        logits = model(**{n: torch.from_numpy(v) for n, v in batch.items()}).logits
    return logits.float().numpy()
