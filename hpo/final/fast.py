"""Fast CPU scoring: the final model exported to ONNX with int8 weights, run by ONNX Runtime.

``hpo quantize MODEL_DIR`` exports the model with PyTorch's own ONNX exporter, quantizes its
weights to int8 with ONNX Runtime's dynamic quantization (activations are quantized per batch
as they come), and writes ``MODEL_DIR/onnx/`` with a record of the weights it was made from.
``hpo predict --fast`` then scores through an ONNX Runtime session on all cores, texts cut
exactly as in training. ``bench/predict_speed.py`` measured why this and not bf16 or more
threads (the figures are in ``bench/results/``); the accuracy it costs is measured there too,
on the same test examples as the report's, with McNemar's test.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from hpo.errors import HpoError, ModelError
from hpo.runs import write_atomically

logger = logging.getLogger(__name__)

#: The folder inside a model folder that ``hpo quantize`` writes.
FAST_DIR = "onnx"
FAST_MODEL = "model-int8.onnx"
FAST_RECORD = "source.json"
#: The ONNX opset the export targets (ONNX Runtime has run it for years).
OPSET = 17
_INSTALL = "pip install 'hpo-tune[fast]'"


def _require() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise HpoError(
            f"fast CPU scoring needs ONNX Runtime, which is not installed: {_INSTALL}."
        ) from None
    return onnxruntime


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


def quantize(model_dir: str | Path, *, per_channel: bool = True) -> Path:
    """Export ``model_dir`` to ONNX, quantize its weights to int8 (a scale per output channel,
    or one per tensor), and write ``model_dir/onnx/model-int8.onnx``; returns its path. Done
    again only when the weights changed."""
    onnxruntime = _require()
    from onnxruntime.quantization import QuantType, quantize_dynamic

    folder = Path(model_dir).expanduser().absolute()
    out = folder / FAST_DIR
    source = _source(folder, onnxruntime) | {"per_channel": per_channel}
    if _current(out, source):
        logger.info("%s is up to date.", out / FAST_MODEL)
        return out / FAST_MODEL
    out.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hpo-onnx-", dir=out) as tmp:
        plain = Path(tmp) / "model.onnx"
        export(folder, plain)
        quantized = Path(tmp) / FAST_MODEL
        # The activations' ranges are taken from each batch: no calibration data is needed.
        quantize_dynamic(
            str(plain), str(quantized), weight_type=QuantType.QInt8, per_channel=per_channel
        )
        os.replace(quantized, out / FAST_MODEL)
    write_atomically(out / FAST_RECORD, json.dumps(source, indent=1) + "\n")
    return out / FAST_MODEL


def _source(folder: Path, onnxruntime: Any) -> dict[str, Any]:
    return {"weights": weights_fingerprint(folder), "onnxruntime": onnxruntime.__version__}


def _current(out: Path, source: dict[str, Any]) -> bool:
    """Whether ``out`` holds a fast model made from ``source`` (its ``per_channel`` setting
    aside when ``source`` has none: a scorer takes either)."""
    try:
        made = json.loads((out / FAST_RECORD).read_text())
    except (OSError, ValueError):
        return False
    if "per_channel" not in source:
        made = {k: v for k, v in made.items() if k != "per_channel"}
    return (out / FAST_MODEL).is_file() and made == source


def export(folder: Path, path: Path) -> list[str]:
    """Export the model of ``folder`` to ONNX at ``path`` in fp32, batch and length dynamic;
    returns the graph's input names, in the order of the model's ``forward``."""
    import inspect

    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    try:
        import onnx  # noqa: F401  (the exporter writes through it)
    except ImportError:
        raise HpoError(f"exporting to ONNX needs the onnx package: {_INSTALL}.") from None
    model = AutoModelForSequenceClassification.from_pretrained(
        str(folder), attn_implementation="eager"
    )
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    sample = tokenizer(["an example text", "another one"], padding=True, return_tensors="pt")
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
    return names


class FastScorer:
    """Logits from the int8 ONNX model of a folder, on all of this machine's cores."""

    def __init__(self, model_dir: Path) -> None:
        onnxruntime = _require()
        path = model_dir / FAST_DIR / FAST_MODEL
        if not path.is_file():
            raise ModelError(
                f"{model_dir}: no fast model ({FAST_DIR}/{FAST_MODEL}). Run `hpo quantize "
                f"{model_dir}` once to write it."
            )
        if not _current(path.parent, _source(model_dir, onnxruntime)):
            raise ModelError(
                f"{path}: made from other weights or another ONNX Runtime. Run `hpo quantize "
                f"{model_dir}` again."
            )
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = os.cpu_count() or 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
        self.inputs = [i.name for i in self.session.get_inputs()]

    def logits(self, batch: dict[str, Any]) -> np.ndarray:
        """Logits of a padded batch (``input_ids``, ``attention_mask``, ... as numpy)."""
        feed = {name: np.asarray(batch[name], dtype=np.int64) for name in self.inputs}
        return np.asarray(self.session.run(["logits"], feed)[0], dtype=np.float32)
