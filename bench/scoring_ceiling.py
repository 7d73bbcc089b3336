"""Scoring ceiling: how many texts a second could any scorer of this model reach on this CPU?

A transformer encoder's time is mostly its linear layers (query, key, value, output, and the
two feed-forward ones in every layer). This benchmark times exactly those matrix products, at
the model's own shapes for a batch of texts at the study's length, with the kernels the ways of
``bench/predict_speed.py`` use: ONNX Runtime's int8 ``MatMulInteger`` (what dynamic int8
quantization runs), PyTorch's bf16 and fp32 ``matmul``. The sum is the time a text needs if
nothing else took any (attention's own products, softmax, layer norms, GELU, embeddings,
tokenizing and quantizing the activations all left out), so its inverse is an upper bound on
texts per second: a target above it cannot be met by scoring this model at this length on this
machine, only by computing less (a shorter length, a smaller model).

    python bench/scoring_ceiling.py runs/imdb/final/model              # length from the model
    python bench/scoring_ceiling.py MODEL --length 192 --target 112

Results go to ``bench/results/<date>-<host>.scoring-ceiling.json``. Nothing else may run
meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import _record  # bench/_record.py: commit, machine and results file of every benchmark
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PRECISIONS = ("int8", "bf16", "fp32")


def layer_shapes(config: dict[str, Any]) -> list[tuple[int, int, int]]:
    """(in, out, count) of the encoder's linear layers, for BERT-like and DistilBERT configs."""
    hidden = config.get("hidden_size") or config.get("dim")
    inner = config.get("intermediate_size") or config.get("hidden_dim")
    layers = config.get("num_hidden_layers") or config.get("n_layers")
    if not (hidden and inner and layers):
        raise SystemExit("config.json: no hidden_size/intermediate_size/num_hidden_layers")
    return [(hidden, hidden, 4 * layers), (hidden, inner, layers), (inner, hidden, layers)]


def _timed(run: Any, repeat: int) -> float:
    """The fastest of ``repeat`` calls after one warm-up, in seconds."""
    run()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def _int8_product(rows: int, k: int, n: int, threads: int) -> Any:
    """A call of ONNX Runtime's MatMulInteger: uint8 activations [rows, k] x int8 weights."""
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = rng.integers(-127, 128, size=(k, n), dtype=np.int8)
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "w", "a_zero"], ["y"])],
        "matmul_integer",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [rows, k])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [rows, n])],
        [
            numpy_helper.from_array(weights, "w"),
            numpy_helper.from_array(np.array(128, dtype=np.uint8), "a_zero"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    feed = {"a": rng.integers(0, 256, size=(rows, k), dtype=np.uint8)}
    return lambda: session.run(["y"], feed)


def _torch_product(rows: int, k: int, n: int, dtype: str) -> Any:
    import torch

    kind = {"bf16": torch.bfloat16, "fp32": torch.float32}[dtype]
    a = torch.randn(rows, k).to(kind)
    w = torch.randn(k, n).to(kind)

    def run() -> None:
        with torch.inference_mode():
            torch.matmul(a, w)

    return run


def measure(
    config: dict[str, Any], length: int, batch: int, repeat: int, threads: int
) -> dict[str, Any]:
    """Per precision: seconds a batch spends in the linear layers, their rate, the ceiling."""
    import torch

    torch.set_num_threads(threads)
    rows = batch * length
    shapes = layer_shapes(config)
    ops_per_text = sum(2 * length * k * n * count for k, n, count in shapes)
    out: dict[str, Any] = {"ops_per_text": ops_per_text, "precisions": {}}
    for precision in PRECISIONS:
        seconds = 0.0
        for k, n, count in shapes:
            call = (
                _int8_product(rows, k, n, threads)
                if precision == "int8"
                else _torch_product(rows, k, n, precision)
            )
            seconds += count * _timed(call, repeat)
        out["precisions"][precision] = {
            "linear_seconds_per_batch": round(seconds, 5),
            "gops": round(ops_per_text * batch / seconds / 1e9, 1),
            "ceiling_texts_per_second": round(batch / seconds, 1),
        }
    return out


def main() -> None:
    """Time the linear layers at the model's shapes, print the ceilings, write the record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a model folder (its config.json; hpo.json for the length)")
    parser.add_argument("--length", type=int, help="tokens a text (default: the model's)")
    parser.add_argument("--batch", type=int, default=16, help="texts a batch (default 16)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--target", type=float, help="texts/s to compare each ceiling with")
    parser.add_argument("--out", default=str(REPO / "bench" / "results"))
    opts = parser.parse_args()
    folder = Path(opts.model)
    config = json.loads((folder / "config.json").read_text())
    length = opts.length
    if length is None:
        from hpo.final.record import ModelRecord

        length = ModelRecord.read(folder).max_length
    result = measure(config, length, opts.batch, opts.repeat, opts.threads)
    print(
        f"{folder.name}: {result['ops_per_text'] / 1e9:.2f} G ops a text in its linear layers "
        f"at {length} tokens, batch {opts.batch}, {opts.threads} threads"
    )
    print(f"{'precision':<10}{'GOPS':>8}{'ceiling texts/s':>17}")
    for precision, row in result["precisions"].items():
        line = f"{precision:<10}{row['gops']:>8.1f}{row['ceiling_texts_per_second']:>17.1f}"
        if opts.target:
            ratio = row["ceiling_texts_per_second"] / opts.target
            line += f"   {ratio:.2f}x the target {opts.target:g}"
        print(line)
    _record.write(
        opts.out,
        "scoring-ceiling",
        {
            "model": str(folder),
            "length": length,
            "batch": opts.batch,
            "threads": opts.threads,
            "target": opts.target,
            **result,
        },
    )


if __name__ == "__main__":
    main()
