"""Predict with a final model: one JSON line per review, label name and probability."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from hpo.errors import HpoError, ModelError
from hpo.layout import read_model_record

DEFAULT_MAX_LENGTH = 512


def final_info(model_dir: str | Path) -> dict[str, Any]:
    """What ``hpo retrain`` recorded next to the model (``max_length``, ``text_column``, ...)."""
    folder = Path(model_dir).expanduser().absolute()
    if not (folder / "config.json").is_file():
        raise ModelError(
            f"{folder}: not a model folder (no config.json). Give the folder "
            "written by `hpo retrain`, e.g. runs/<study>/final/model."
        )
    return read_model_record(folder)


def load_final(model_dir: str | Path) -> tuple[Any, Any, int]:
    """Model, tokenizer and training ``max_length`` from a folder written by ``hpo retrain``."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = Path(model_dir).expanduser().absolute()
    info = final_info(folder)
    model = AutoModelForSequenceClassification.from_pretrained(str(folder))
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model.eval()
    return model, tokenizer, int(info.get("max_length", DEFAULT_MAX_LENGTH))


def predict(
    model_dir: str | Path, texts: Iterable[str], *, batch_size: int = 32
) -> Iterator[dict[str, Any]]:
    """Yield ``{"label", "probability", "text"}`` per review, batch by batch."""
    import torch

    texts = list(texts)
    if not texts or any(not t.strip() for t in texts):
        raise HpoError(
            "predict: no review given (or an empty one). Pass reviews as arguments, "
            "with --file F (.txt a review per line; .csv, .tsv, .jsonl or .parquet by their "
            "text column), or on standard input with --file -."
        )
    model, tokenizer, max_length = load_final(model_dir)
    id2label = model.config.id2label
    for start in range(0, len(texts), batch_size):
        batch = texts[start : start + batch_size]
        # Truncated exactly as in training: same tokenizer, same max_length.
        enc = tokenizer(
            batch, truncation=True, max_length=max_length, padding=True, return_tensors="pt"
        )
        with torch.inference_mode():
            probs = model(**enc).logits.softmax(-1)
        for text, row in zip(batch, probs, strict=True):
            best = int(row.argmax())
            yield {
                "label": id2label[best],
                "probability": round(float(row[best]), 4),
                "text": text if len(text) <= 80 else text[:77] + "...",
            }


#: ``--file`` formats read by column; any other file is read a review per line.
TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".parquet")


def read_texts(path: str, *, text_column: str = "text") -> list[str]:
    """Reviews from a file: ``.csv``/``.tsv``/``.jsonl``/``.parquet`` by their ``text_column``
    (the header is not a review); ``.txt``, any other file and ``-`` (standard input) one per
    non-empty line."""
    import sys

    if path == "-":
        return [line for line in sys.stdin.read().splitlines() if line.strip()]
    file = Path(path).expanduser().absolute()
    suffix = file.suffix.lower()
    try:
        if suffix not in TABLE_SUFFIXES:
            lines = file.read_text(encoding="utf-8").splitlines()
            return [line for line in lines if line.strip()]
        rows = _read_table(file, suffix)
    except OSError as exc:
        raise HpoError(f"predict: cannot read {file}: {exc.strerror}.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise HpoError(f"predict: {file} is not valid {suffix[1:]}: {exc}.") from None
    texts = []
    for i, row in enumerate(rows, start=1):
        if text_column not in row:
            raise HpoError(
                f"predict: {file} row {i} has no column {text_column!r} (columns: "
                f"{', '.join(map(str, row))}). Pass --text-column."
            )
        texts.append(row[text_column])
    bad = [i for i, t in enumerate(texts, start=1) if not isinstance(t, str) or not t.strip()]
    if bad:
        raise HpoError(
            f"predict: {file}: {len(bad)} empty or missing texts in column {text_column!r} "
            f"(first at row {bad[0]}). Remove those rows."
        )
    return texts


def _read_table(file: Path, suffix: str) -> list[dict[str, Any]]:
    if suffix in (".csv", ".tsv"):
        import csv

        with file.open(encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh, delimiter="\t" if suffix == ".tsv" else ","))
    if suffix == ".jsonl":
        rows = []
        for n, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError(f"line {n} is not a JSON object")
                rows.append(row)
        return rows
    import pyarrow.parquet as pq

    try:
        return pq.read_table(file).to_pylist()
    except Exception as exc:  # pyarrow raises its own error types for a bad file
        raise ValueError(str(exc).splitlines()[0]) from None
