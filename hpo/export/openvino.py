"""Fast CPU scoring: the final model with int8 weights, run by OpenVINO.

``hpo quantize MODEL_DIR`` exports the model to ONNX (:mod:`hpo.export.onnx`), checks that
OpenVINO computes PyTorch's logits from that graph, quantizes it to int8 with NNCF and writes
``MODEL_DIR/openvino/`` with a record of what it was made from. Two ways to int8:

- without calibration texts, the weights only (a scale per output channel); at run time
  OpenVINO quantizes each token's activations as they come, so no data is needed;
- with calibration texts (``--calibrate FILE``: texts like the ones to be scored, from the
  training data, never the test split), every matrix product including attention's, the
  activations' ranges measured on those texts; faster still, and the quantized model's
  agreement with the fp32 one on texts of the file it was not calibrated on is recorded.

``hpo predict --fast`` then scores through OpenVINO on all cores, two batches in flight at
once, in bf16 where the CPU computes it natively, texts cut exactly as in training.
``bench/predict_speed.py`` measures both ways' speed and the accuracy they cost, on the same
test examples, with McNemar's test.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hpo.errors import HpoError, ModelError
from hpo.export.onnx import INSTALL, export, weights_fingerprint
from hpo.runs import write_atomically

logger = logging.getLogger(__name__)

#: The folder inside a model folder that ``hpo quantize`` writes.
FAST_DIR = "openvino"
FAST_MODEL = "model.xml"
FAST_RECORD = "source.json"
#: How far OpenVINO's fp32 logits from the exported graph may be from PyTorch's on the check
#: texts: float rounding in another order of operations, far below what changes a prediction.
EXACT = 1e-3
#: Calibration takes at most this many texts of the file; up to as many others are held out
#: to measure the quantized model's agreement with the fp32 one.
CALIBRATION_TEXTS = 300


def _require() -> Any:
    try:
        import openvino
    except ImportError:
        raise HpoError(
            f"fast CPU scoring needs OpenVINO, which is not installed: {INSTALL}."
        ) from None
    return openvino


def texts_fingerprint(encoded: dict[str, list[list[int]]]) -> str:
    """Which calibration texts (as the model reads them) a quantized model was made with."""
    return hashlib.sha256(json.dumps(encoded, sort_keys=True).encode()).hexdigest()[:20]


def quantize(
    model_dir: str | Path,
    *,
    int8: bool = True,
    calibration: dict[str, list[list[int]]] | None = None,
) -> Path:
    """Write ``model_dir/openvino/model.xml`` for :class:`FastScorer` and return its path.

    The model is exported to ONNX in fp32 and OpenVINO's logits from it are checked against
    PyTorch's on padded sample texts (a graph that computes otherwise is refused). With
    ``int8``: weights-only int8 when ``calibration`` is None; else full int8, calibrated on
    the first :data:`CALIBRATION_TEXTS` of those encoded texts (``input_ids`` ... unpadded,
    cut as in training), and its agreement with the fp32 model measured on the rest. Done
    again only when the weights, OpenVINO or the options changed."""
    openvino = _require()
    folder = Path(model_dir).expanduser().absolute()
    out = folder / FAST_DIR
    wanted = _source(folder, openvino) | {
        "int8": int8,
        "calibration": texts_fingerprint(calibration) if int8 and calibration else None,
    }
    if _current(out, wanted):
        logger.info("%s is up to date.", out / FAST_MODEL)
        return out / FAST_MODEL
    out.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hpo-openvino-", dir=out) as tmp:
        plain = Path(tmp) / "plain.onnx"
        batch, expected = export(folder, plain)
        core = openvino.Core()
        model = core.read_model(str(plain))
        off = float(np.abs(_logits(core, model, [batch], exact=True)[0] - expected).max())
        if off > EXACT:
            raise ModelError(
                f"{folder}: OpenVINO computes other logits than PyTorch from its ONNX export "
                f"(off by {off:.3g}); score with plain `hpo predict`, without --fast."
            )
        made: dict[str, Any] = {}
        if int8:
            model, made = _int8(core, model, calibration, _dynamic_group(folder))
        staged = Path(tmp) / FAST_MODEL
        openvino.save_model(model, str(staged))
        # The record goes first: a crash between the two files leaves no model called current.
        (out / FAST_RECORD).unlink(missing_ok=True)
        for suffix in (".bin", ".xml"):
            os.replace(staged.with_suffix(suffix), (out / FAST_MODEL).with_suffix(suffix))
    write_atomically(out / FAST_RECORD, json.dumps(wanted | made, indent=1) + "\n")
    return out / FAST_MODEL


def _source(folder: Path, openvino: Any) -> dict[str, Any]:
    return {"weights": weights_fingerprint(folder), "openvino": openvino.__version__}


def _current(out: Path, source: dict[str, Any]) -> bool:
    """Whether ``out`` holds a fast model made from ``source`` (keys ``source`` lacks are
    left aside: a scorer takes a model made with any options)."""
    try:
        made = json.loads((out / FAST_RECORD).read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(made, dict):
        return False
    files = (out / FAST_MODEL).is_file() and (out / FAST_MODEL).with_suffix(".bin").is_file()
    return files and all(made.get(k) == v for k, v in source.items())


def _dynamic_group(folder: Path) -> int:
    """How many activations share a scale when OpenVINO quantizes them at run time: one
    hidden vector's worth (it divides every linear layer's input width in the transformer
    families hpo trains; a group wider than a layer's input leaves that layer unquantized)."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(folder))
    return int(getattr(config, "hidden_size", 0) or getattr(config, "dim", 0) or 0)


def _int8(
    core: Any, model: Any, calibration: dict[str, list[list[int]]] | None, group: int
) -> tuple[Any, dict[str, Any]]:
    """``model`` quantized to int8 by NNCF, and what to record of it."""
    try:
        import nncf
    except ImportError:
        raise HpoError(
            f"quantizing to int8 needs NNCF, which is not installed: {INSTALL}."
        ) from None
    nncf.set_log_level(logging.ERROR)
    if not calibration:
        # Weights only; OpenVINO quantizes the activations per group as they come.
        compressed = nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT8_SYM)
        return compressed, {"activations": "dynamic", "dynamic_group": group}
    names = [i.get_any_name() for i in model.inputs]
    rows = [
        {n: np.asarray([calibration[n][i]], dtype=np.int64) for n in names}
        for i in range(len(calibration["input_ids"]))
    ]
    used, held = rows[:CALIBRATION_TEXTS], rows[CALIBRATION_TEXTS : 2 * CALIBRATION_TEXTS]
    quantized = nncf.quantize(
        model,
        nncf.Dataset(used),
        model_type=nncf.ModelType.TRANSFORMER,
        subset_size=len(used),
    )
    made: dict[str, Any] = {"activations": "calibrated", "calibration_texts": len(used)}
    if held:
        fp32 = np.concatenate(_logits(core, model, held, exact=True)).argmax(-1)
        int8 = np.concatenate(_logits(core, quantized, held, exact=False)).argmax(-1)
        made |= {"held_out_texts": len(held), "agreement": round(float((fp32 == int8).mean()), 4)}
    return quantized, made


def _compile(core: Any, model: Any, *, exact: bool, group: int = 0) -> Any:
    """``model`` compiled for this CPU's cores, for throughput (as many streams as OpenVINO
    finds best, a batch in flight on each). Not ``exact``: in bf16 where the CPU computes it
    natively."""
    hint = "f32"
    if not exact and "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        hint = "bf16"
    config: dict[str, Any] = {"PERFORMANCE_HINT": "THROUGHPUT", "INFERENCE_PRECISION_HINT": hint}
    if group:
        config["DYNAMIC_QUANTIZATION_GROUP_SIZE"] = group
    return core.compile_model(model, "CPU", config)


def _logits(
    core: Any, model: Any, batches: Sequence[dict[str, np.ndarray]], *, exact: bool
) -> list[np.ndarray]:
    return _run(_compile(core, model, exact=exact), batches)


def _run(compiled: Any, batches: Sequence[dict[str, np.ndarray]]) -> list[np.ndarray]:
    """Logits of each batch, in order, with as many batches in flight as the model was
    compiled for. Requests are taken in turn and waited on by this thread (a completion
    callback would need the interpreter lock from OpenVINO's threads while this one holds
    it, waiting for a free request)."""
    requests = compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")
    pool = [compiled.create_infer_request() for _ in range(max(1, min(requests, len(batches))))]
    out: list[np.ndarray] = []
    pending: list[Any] = []
    for index, batch in enumerate(batches):
        request = pool[index % len(pool)]
        if len(pending) == len(pool):
            out.append(_collect(pending.pop(0)))
        request.start_async(batch)
        pending.append(request)
    out.extend(_collect(request) for request in pending)
    return out


def _collect(request: Any) -> np.ndarray:
    request.wait()
    return np.array(request.get_output_tensor(0).data, dtype=np.float32)


class FastScorer:
    """Logits from the int8 model ``hpo quantize`` wrote into a folder, on all of this
    machine's cores."""

    def __init__(self, model_dir: Path) -> None:
        openvino = _require()
        path = model_dir / FAST_DIR / FAST_MODEL
        if not path.is_file():
            raise ModelError(
                f"{model_dir}: no fast model ({FAST_DIR}/{FAST_MODEL}). Run `hpo quantize "
                f"{model_dir}` once to write it."
            )
        if not _current(path.parent, _source(model_dir, openvino)):
            raise ModelError(
                f"{path}: made from other weights or another OpenVINO. Run `hpo quantize "
                f"{model_dir}` again."
            )
        made = json.loads((path.parent / FAST_RECORD).read_text())
        core = openvino.Core()
        model = core.read_model(str(path))
        self.inputs = [i.get_any_name() for i in model.inputs]
        self.compiled = _compile(
            core, model, exact=not made.get("int8"), group=made.get("dynamic_group") or 0
        )

    def logits(self, batches: Sequence[dict[str, Any]]) -> list[np.ndarray]:
        """Logits of padded batches (``input_ids``, ``attention_mask``, ... as numpy), in
        their order, several in flight at once."""
        feeds = [
            {name: np.asarray(batch[name], dtype=np.int64) for name in self.inputs}
            for batch in batches
        ]
        return _run(self.compiled, feeds)
