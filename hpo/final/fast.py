"""Fast CPU scoring: the final model exported to ONNX, fused and with int8 weights, run by
ONNX Runtime.

``hpo quantize MODEL_DIR`` exports the model with PyTorch's own ONNX exporter, checks that the
graph computes PyTorch's logits, fuses attention, GELU and layer norms with ONNX Runtime's
transformer optimizer (kept only where the fused graph computes the same), quantizes the
weights to int8 with ONNX Runtime's dynamic quantization (activations are quantized per batch
as they come), and writes ``MODEL_DIR/onnx/`` with a record of what it was made from.
``hpo predict --fast`` then scores through an ONNX Runtime session on all cores, texts cut
exactly as in training. ``bench/predict_speed.py`` measures each of these steps' speed and
the accuracy it costs, on the same test examples, with McNemar's test.
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
FAST_MODEL = "model.onnx"
FAST_RECORD = "source.json"
#: The ONNX opset the export targets (ONNX Runtime has run it for years).
OPSET = 17
#: How far the exported fp32 graph's logits may be from PyTorch's on the check texts: float
#: rounding in another order of operations, far below what changes a prediction.
EXACT = 1e-3
_INSTALL = "pip install 'hpo-tune[fast]'"
#: Texts of several lengths, padded as one batch, for the export and its check.
_SAMPLE = [
    "an example text",
    "another one, somewhat longer than the first, with punctuation and a number: 42.",
    "short",
]


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


def quantize(
    model_dir: str | Path, *, int8: bool = True, per_channel: bool = True, fuse: bool = True
) -> Path:
    """Write ``model_dir/onnx/model.onnx`` for :class:`FastScorer` and return its path.

    The model is exported to ONNX in fp32; with ``fuse``, ONNX Runtime's transformer optimizer
    fuses attention, GELU and layer norms into single kernels; with ``int8``, the weights are
    quantized to int8 (a scale per output channel, or one per tensor). The fp32 graph is
    checked against PyTorch on padded sample texts first: a fused graph that computes
    otherwise is dropped for the plain one, and a plain one that does is refused. Done again
    only when the weights or the options changed."""
    onnxruntime = _require()
    folder = Path(model_dir).expanduser().absolute()
    out = folder / FAST_DIR
    wanted = _source(folder, onnxruntime) | {"int8": int8, "per_channel": per_channel, "fuse": fuse}
    if _current(out, wanted):
        logger.info("%s is up to date.", out / FAST_MODEL)
        return out / FAST_MODEL
    out.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hpo-onnx-", dir=out) as tmp:
        plain = Path(tmp) / "plain.onnx"
        batch, expected = export(folder, plain)
        off = _off_by(plain, batch, expected)
        if off > EXACT:
            raise ModelError(
                f"{folder}: its ONNX export computes other logits than PyTorch (off by "
                f"{off:.3g}); score with plain `hpo predict`, without --fast."
            )
        graph, fused = plain, False
        if fuse and (candidate := _fused(folder, plain, Path(tmp) / "fused.onnx")):
            off = _off_by(candidate, batch, expected)
            if off <= EXACT:
                graph, fused = candidate, True
            else:
                logger.warning("fused graph off by %.3g from PyTorch; keeping it unfused", off)
        final = Path(tmp) / FAST_MODEL
        if int8:
            _int8(graph, final, per_channel=per_channel, fused=fused)
        else:
            os.replace(graph, final)
        os.replace(final, out / FAST_MODEL)
    source = wanted | {"fused": fused}
    write_atomically(out / FAST_RECORD, json.dumps(source, indent=1) + "\n")
    return out / FAST_MODEL


def _source(folder: Path, onnxruntime: Any) -> dict[str, Any]:
    return {"weights": weights_fingerprint(folder), "onnxruntime": onnxruntime.__version__}


def _current(out: Path, source: dict[str, Any]) -> bool:
    """Whether ``out`` holds a fast model made from ``source`` (keys ``source`` lacks are
    left aside: a scorer takes a model made with any options)."""
    try:
        made = json.loads((out / FAST_RECORD).read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(made, dict):
        return False
    return (out / FAST_MODEL).is_file() and all(made.get(k) == v for k, v in source.items())


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
        raise HpoError(f"exporting to ONNX needs the onnx package: {_INSTALL}.") from None
    model = AutoModelForSequenceClassification.from_pretrained(
        str(folder), attn_implementation="eager"
    )
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    sample = tokenizer(_SAMPLE, padding=True, return_tensors="pt")
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
    return batch, _torch_logits(model, batch)


def _torch_logits(model: Any, batch: dict[str, np.ndarray]) -> np.ndarray:
    import torch

    with torch.inference_mode():
        logits = model(**{n: torch.from_numpy(v) for n, v in batch.items()}).logits
    return logits.float().numpy()


def _off_by(graph: Path, batch: dict[str, np.ndarray], expected: np.ndarray) -> float:
    """The largest difference between ``graph``'s logits and ``expected`` on ``batch``."""
    session = _require().InferenceSession(str(graph), providers=["CPUExecutionProvider"])
    got = session.run(["logits"], batch)[0]
    return float(np.abs(np.asarray(got) - expected).max())


def _fused(folder: Path, plain: Path, path: Path) -> Path | None:
    """``plain`` with ONNX Runtime's transformer fusions at ``path``; None where nothing
    fused (the optimizer knows the BERT family's graph; others pass through unchanged)."""
    from onnxruntime.transformers.optimizer import optimize_model
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(folder))
    optimized = optimize_model(
        str(plain),
        model_type="bert",
        num_heads=getattr(config, "num_attention_heads", 0) or 0,
        hidden_size=getattr(config, "hidden_size", 0) or 0,
    )
    if not any(optimized.get_fused_operator_statistics().values()):
        return None
    optimized.save_model_to_file(str(path))
    return path


def _int8(graph: Path, path: Path, *, per_channel: bool, fused: bool) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The activations' ranges are taken from each batch: no calibration data is needed. The
    # fused kernels come from ONNX Runtime's own domain, whose output types ONNX's shape
    # inference cannot tell: they are float.
    extra = {"DefaultTensorType": onnx.TensorProto.FLOAT} if fused else {}
    quantize_dynamic(
        str(graph),
        str(path),
        weight_type=QuantType.QInt8,
        per_channel=per_channel,
        extra_options=extra,
    )


class FastScorer:
    """Logits from the ONNX model ``hpo quantize`` wrote into a folder, on all of this
    machine's cores."""

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
