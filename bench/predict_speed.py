"""Predict speed: how fast can a final model score texts on this CPU, and what does it cost?

Scores the same test texts with a final model folder in each way hpo offers, and prints per
way: texts per second over the whole set, the median latency of one text at batch 1, the test
accuracy, and against the PyTorch model (fp32, as ``hpo predict`` scores): the accuracy
difference and McNemar's exact test on the same texts.

    python bench/predict_speed.py runs/imdb/final/model --data ../shared/data/imdb
    python bench/predict_speed.py MODEL --data DIR --limit 2000    # a quicker look

Ways: ``torch`` (``hpo predict``: fp32, batches sorted by length), ``torch-bf16`` (the same
under bf16 autocast, as the final stage scores its test split on CPUs that compute bf16
natively), ``fast`` (``hpo quantize`` then ``hpo predict --fast``: int8 weights, activations
quantized as they come, run by OpenVINO), ``fast-calibrated`` (``hpo quantize --calibrate``
on texts of the data's train split: every matrix product int8) and ``fast-fp32`` (the same
OpenVINO path without quantizing, to tell int8's share from the runtime's). Results go to
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

from transformers import AutoTokenizer  # noqa: E402  (after the repository is importable)

from hpo.final.predict import (  # noqa: E402
    BATCH_SIZE,
    FAST_BATCH_SIZE,
    Predictor,
    encode_texts,
    model_record,
)

WAYS = ("torch", "torch-bf16", "fast", "fast-calibrated", "fast-fp32")


def load_split(
    data: Path, text_column: str, labels: list[str], limit: int | None, split: str = "test"
):
    """Texts and label ids of ``data``'s ``split`` (parquet, jsonl or csv)."""
    import pandas as pd

    files = sorted(p for p in data.iterdir() if p.stem.split("-")[0] == split)
    if not files:
        raise SystemExit(f"{data}: no {split} file ({split}.parquet, .jsonl or .csv)")
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


def way_predictor(model_dir: Path, way: str, work: Path, data: Path) -> tuple[Any, Any]:
    """The predictor of ``way`` and the context its scoring runs in."""
    import torch

    from hpo.export.openvino import CALIBRATION_TEXTS, FAST_DIR, quantize

    if way.startswith("fast"):
        folder = work / way
        shutil.copytree(model_dir, folder, ignore=shutil.ignore_patterns(FAST_DIR))
        calibration = None
        if way == "fast-calibrated":
            # As a user would: texts of the training file, never the test split's.
            record = model_record(folder)
            texts, _ = load_split(
                data, record.text_column, list(record.labels), 2 * CALIBRATION_TEXTS, "train"
            )
            calibration = encode_texts(AutoTokenizer.from_pretrained(str(folder)), record, texts)
        quantize(folder, int8=way != "fast-fp32", calibration=calibration)
        return Predictor(folder, fast=True), contextlib.nullcontext()
    predictor = Predictor(model_dir)
    if way == "torch-bf16":
        return predictor, torch.autocast("cpu", dtype=torch.bfloat16)
    return predictor, contextlib.nullcontext()


def measure(
    predictor: Any, context: Any, texts: list[str], batch_size: int | None
) -> dict[str, Any]:
    labels = list(predictor.id2label.values())
    with context:
        predictor.predict(texts[:64], batch_size=batch_size)  # warm-up
        start = time.perf_counter()
        rows = predictor.predict(texts, batch_size=batch_size)
        seconds = time.perf_counter() - start
        one = []
        for text in texts[:100]:
            began = time.perf_counter()
            predictor.predict([text], batch_size=1)
            one.append(time.perf_counter() - began)
    fast = FAST_BATCH_SIZE if predictor.fast else BATCH_SIZE
    return {
        "batch_size": batch_size or fast,
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
    parser.add_argument(
        "--batch-size", type=int, help="default: hpo predict's (32, 16 for the fast ways)"
    )
    parser.add_argument("--ways", nargs="+", default=list(WAYS), choices=WAYS)
    parser.add_argument("--out", default=str(REPO / "bench" / "results"))
    opts = parser.parse_args()

    from hpo.final.scoring import mcnemar

    model_dir = Path(opts.model_dir).absolute()
    record = model_record(model_dir)
    texts, truth = load_split(Path(opts.data), record.text_column, list(record.labels), opts.limit)
    import torch

    print(
        f"{len(texts)} texts at {record.max_length} tokens ({record.truncation}), "
        f"{torch.get_num_threads()} threads, {os.cpu_count()} CPUs",
        flush=True,
    )
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="hpo-predict-speed-") as tmp:
        for way in opts.ways:
            predictor, context = way_predictor(model_dir, way, Path(tmp), Path(opts.data))
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
