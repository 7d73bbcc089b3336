"""Predict speed: how fast can a final model score texts on this CPU, and what does it cost?

Scores the same test texts with a final model folder in each way hpo offers, and prints per
way: texts per second over the whole set, the median latency of one text at batch 1, the test
accuracy, and against the PyTorch model (fp32, as ``hpo predict`` scores): the accuracy
difference and McNemar's exact test on the same texts.

    python bench/predict_speed.py runs/imdb/final/model --data ../shared/data/imdb
    python bench/predict_speed.py MODEL --data DIR --limit 2000    # a quicker look

Ways: ``torch`` (``hpo predict``: fp32, batches sorted by length), ``torch-bf16`` (the same
under bf16 autocast, as the final stage scores its test split on CPUs that compute bf16
natively), ``onnx-int8`` (``hpo quantize`` then ``hpo predict --fast``: fused graph, int8
weights with a scale per output channel), and one step of it changed in each of
``onnx-fp32`` (fused, fp32 weights), ``onnx-int8-unfused`` (the exported graph as it is) and
``onnx-int8-tensor`` (one scale per weight tensor). Results go to
``bench/results/<date>-<host>.predict-speed.json``. Nothing else may run meanwhile.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _record  # bench/_record.py: commit, machine and results file of every benchmark
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

WAYS = ("torch", "torch-bf16", "onnx-int8", "onnx-fp32", "onnx-int8-unfused", "onnx-int8-tensor")
#: ``hpo.final.fast.quantize``'s options per ONNX way.
ONNX = {
    "onnx-int8": {},
    "onnx-fp32": {"int8": False},
    "onnx-int8-unfused": {"fuse": False},
    "onnx-int8-tensor": {"per_channel": False},
}


def load_test(data: Path, text_column: str, labels: list[str], limit: int | None):
    """Texts and label ids of ``data``'s test split (parquet, jsonl or csv)."""
    import pandas as pd

    files = sorted(p for p in data.iterdir() if p.stem.split("-")[0] == "test")
    if not files:
        raise SystemExit(f"{data}: no test file (test.parquet, test.jsonl, test.csv)")
    file = files[0]
    if file.suffix == ".parquet":
        frame = pd.read_parquet(file)
    elif file.suffix == ".jsonl":
        frame = pd.read_json(file, lines=True)
    else:
        frame = pd.read_csv(file)
    if limit:
        frame = frame.sample(n=min(limit, len(frame)), random_state=0)
    raw = frame["label"].tolist()
    ids = [labels.index(v) if isinstance(v, str) else int(v) for v in raw]
    return frame[text_column].tolist(), np.asarray(ids)


def way_predictor(model_dir: Path, way: str, work: Path) -> tuple[Any, Any]:
    """The predictor of ``way`` and the context its scoring runs in."""
    import torch

    from hpo.final.fast import quantize
    from hpo.final.predict import Predictor

    if way.startswith("onnx"):
        folder = work / way
        if not folder.exists():
            shutil.copytree(model_dir, folder, ignore=shutil.ignore_patterns("onnx"))
            quantize(folder, **ONNX[way])
        return Predictor(folder, fast=True), contextlib.nullcontext()
    predictor = Predictor(model_dir)
    if way == "torch-bf16":
        return predictor, torch.autocast("cpu", dtype=torch.bfloat16)
    return predictor, contextlib.nullcontext()


def measure(predictor: Any, context: Any, texts: list[str], batch_size: int) -> dict[str, Any]:
    labels = list(predictor.id2label.values())
    with context:
        predictor.predict(texts[:batch_size], batch_size=batch_size)  # warm-up
        start = time.perf_counter()
        rows = predictor.predict(texts, batch_size=batch_size)
        seconds = time.perf_counter() - start
        one = []
        for text in texts[:100]:
            began = time.perf_counter()
            predictor.predict([text], batch_size=1)
            one.append(time.perf_counter() - began)
    return {
        "seconds": round(seconds, 1),
        "texts_per_second": round(len(texts) / seconds, 2),
        "latency_ms_batch1": round(1000 * statistics.median(one), 1),
        "predictions": [labels.index(r["label"]) for r in rows],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", help="a final model folder (runs/<study>/final/model)")
    parser.add_argument("--data", required=True, help="the data folder with the test split")
    parser.add_argument("--limit", type=int, help="score a seeded sample of this many texts")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--ways", nargs="+", default=list(WAYS), choices=WAYS)
    parser.add_argument("--out", default=str(REPO / "bench" / "results"))
    opts = parser.parse_args()

    from hpo.final.predict import model_record
    from hpo.final.scoring import mcnemar

    model_dir = Path(opts.model_dir).absolute()
    record = model_record(model_dir)
    texts, truth = load_test(Path(opts.data), record.text_column, list(record.labels), opts.limit)
    import torch

    print(
        f"{len(texts)} texts at {record.max_length} tokens ({record.truncation}), "
        f"{torch.get_num_threads()} threads, {os.cpu_count()} CPUs",
        flush=True,
    )
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="hpo-predict-speed-") as tmp:
        for way in opts.ways:
            predictor, context = way_predictor(model_dir, way, Path(tmp))
            result = measure(predictor, context, texts, opts.batch_size)
            result["accuracy"] = float(np.mean(np.asarray(result["predictions"]) == truth))
            results[way] = result
            print(
                f"{way:17s} {result['texts_per_second']:8.1f} texts/s  "
                f"{result['latency_ms_batch1']:7.1f} ms at batch 1  "
                f"accuracy {100 * result['accuracy']:.2f}%",
                flush=True,
            )
            del predictor
    reference = results.get("torch")
    if reference:
        right = np.asarray(reference["predictions"]) == truth
        for way, result in results.items():
            mine = np.asarray(result["predictions"]) == truth
            test = mcnemar(mine, right)
            result["against_torch"] = {
                "accuracy_points": round(100 * (result["accuracy"] - reference["accuracy"]), 3),
                "speedup": round(result["texts_per_second"] / reference["texts_per_second"], 2),
                "same_prediction": float(
                    np.mean(np.asarray(result["predictions"]) == reference["predictions"])
                ),
                "mcnemar": test,
            }
            print(
                f"{way:17s} {result['against_torch']['speedup']:5.2f}x torch, accuracy "
                f"{result['against_torch']['accuracy_points']:+.2f} points, McNemar p = "
                f"{test['p_value']:.3g} ({test['a_only']} vs {test['b_only']})"
            )
    for result in results.values():
        result.pop("predictions")
    _record.write(
        opts.out,
        "predict-speed",
        {
            "model": str(model_dir),
            "data": opts.data,
            "n": len(texts),
            "max_length": record.max_length,
            "truncation": record.truncation,
            "batch_size": opts.batch_size,
            "results": results,
        },
    )


if __name__ == "__main__":
    main()
