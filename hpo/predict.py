"""Predict with a final model: one JSON line per review, label name and probability."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from hpo.errors import HpoError, ModelError

DEFAULT_MAX_LENGTH = 512


def load_final(model_dir: str | Path) -> tuple[Any, Any, int]:
    """Model, tokenizer and training ``max_length`` from a folder written by ``hpo retrain``."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from hpo.retrain import FINAL_INFO

    folder = Path(model_dir)
    if not (folder / "config.json").is_file():
        raise ModelError(
            f"{model_dir}: not a model folder (no config.json). Give the folder "
            "written by `hpo retrain`, e.g. runs/<study>/final/model."
        )
    info_path = folder / FINAL_INFO
    info = json.loads(info_path.read_text()) if info_path.is_file() else {}
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
            "with --file F (one per line), or on standard input with -."
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


def read_lines(path: str) -> list[str]:
    """Reviews from a file, one per non-empty line ('-' reads standard input)."""
    import sys

    if path == "-":
        lines = sys.stdin.read().splitlines()
    else:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise HpoError(f"predict: cannot read {path}: {exc.strerror}.") from None
    return [line for line in lines if line.strip()]
