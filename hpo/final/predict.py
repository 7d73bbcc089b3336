"""Predict with a final model: the label name, its probability and the probability of every
class, per text (or text pair), cut the way the model was trained."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hpo.data.truncation import encode
from hpo.errors import HpoError, ModelError
from hpo.final.choice import mix
from hpo.final.classical import RECORD, TfidfModel
from hpo.final.record import CLASSICAL_DIR, RECORD_FILE, ModelRecord

Text = str | tuple[str, str]


def model_record(model_dir: str | Path) -> ModelRecord:
    """The record ``hpo retrain`` saved next to the model (its defaults for a model saved
    elsewhere); a folder that holds no model is a :class:`ModelError`."""
    folder = Path(model_dir).expanduser().absolute()
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise ModelError(
            f"{folder}: not a model folder (no config.json). Give the folder "
            "written by `hpo retrain`, e.g. runs/<study>/final/model."
        )
    try:
        architectures = json.loads(config_file.read_text(encoding="utf-8")).get("architectures")
    except (OSError, ValueError, AttributeError):
        raise ModelError(
            f"{config_file}: not valid JSON. The folder is damaged; run `hpo retrain` again to "
            "write it."
        ) from None
    if architectures and not any("SequenceClassification" in a for a in architectures):
        # from_pretrained would add a fresh, untrained head and predict at random.
        raise ModelError(
            f"{config_file}: a {architectures[0]}, not a text classifier. Give the folder "
            "written by `hpo retrain`, e.g. runs/<study>/final/model."
        )
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        raise ModelError(
            f"{folder}: no weights ({WEIGHT_FILES[0]}). Run `hpo retrain CONFIG` again to "
            "write them, or give a complete folder."
        )
    return ModelRecord.read(folder)


#: The weight files ``from_pretrained`` reads, the one hpo writes first.
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")


def _check_served(folder: Path, record: ModelRecord) -> None:
    """What the record says is served must be whole: a known model and a weight that fits it."""
    weight = record.weight
    fits = {"tuned": weight == 1.0, "classical": weight == 0.0, "blend": 0.0 < weight < 1.0}
    if not fits.get(record.shipped, False):
        raise ModelError(
            f"{folder / RECORD_FILE}: shipped {record.shipped!r} with weight {weight!r} (tuned "
            "takes 1, classical 0, blend between them). The record is damaged; run `hpo run` "
            "(or `hpo retrain`) again to write it."
        )


def _classical(folder: Path, record: ModelRecord) -> TfidfModel:
    """The TF-IDF model a record serves, checked against it."""
    model = TfidfModel.load(folder / CLASSICAL_DIR)
    if model.labels != record.labels:
        raise ModelError(
            f"{folder / CLASSICAL_DIR / RECORD}: its classes do not match {RECORD_FILE}'s "
            f"({len(model.labels)} against {len(record.labels)}). The folder mixes two models; "
            "run `hpo run` again to write it whole."
        )
    return model


class Predictor:
    """A saved model with its tokenizer and record, loaded once: label texts (or pairs) cut
    exactly as in training (same tokenizer, ``max_length`` and truncation, pairs as pairs).

    ``fast``: score with the int8 model ``hpo quantize`` wrote (:mod:`hpo.export.openvino`)
    instead of the PyTorch weights. Either way texts are batched by length within chunks of
    :data:`CHUNK_BATCHES` batches (less padding), and answered in their own order.
    """

    def __init__(self, model_dir: str | Path, *, fast: bool = False) -> None:
        from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

        self.model_dir = Path(model_dir).expanduser().absolute()
        self.record = record = model_record(self.model_dir)
        self.fast = fast
        _check_served(self.model_dir, record)
        # The TF-IDF part of what was shipped (hpo.final.ship), from plain files.
        self.classical = _classical(self.model_dir, record) if record.weight < 1.0 else None
        if record.weight <= 0.0:  # TF-IDF alone: the transformer is not run
            self.id2label = dict(enumerate(record.labels))
            return
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(self.model_dir))
            if fast:
                from hpo.export.openvino import FastScorer

                self.id2label = AutoConfig.from_pretrained(str(self.model_dir)).id2label
                self._scorer: Any = FastScorer(self.model_dir)
            else:
                model = AutoModelForSequenceClassification.from_pretrained(str(self.model_dir))
                model.eval()
                self.model, self.id2label = model, model.config.id2label
        except HpoError:
            raise
        except Exception as exc:  # safetensors, tokenizers and torch each raise their own
            cause = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ModelError(
                f"{self.model_dir}: cannot load the model ({cause}). Its files are damaged or "
                "incomplete; run `hpo retrain CONFIG` again to write them."
            ) from None

    def predict(
        self, texts: Iterable[Text], *, batch_size: int | None = None
    ) -> list[dict[str, Any]]:
        """``{"label", "probability", "probabilities", "text"}`` per text, in order; a pair
        model takes ``(text, pair)`` tuples and adds ``"text_pair"``. ``batch_size``: texts a
        forward pass, by default :data:`BATCH_SIZE` (:data:`FAST_BATCH_SIZE` when fast)."""
        return list(self.iter_predict(texts, batch_size=batch_size))

    def iter_predict(
        self, texts: Iterable[Text], *, batch_size: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """:meth:`predict`, one chunk of batches at a time."""
        batch_size = batch_size or (FAST_BATCH_SIZE if self.fast else BATCH_SIZE)
        texts = _checked(texts)
        record = self.record
        pair_column = record.text_pair_column
        if pair_column and not all(isinstance(t, tuple) for t in texts):
            raise HpoError(
                f"predict: {self.model_dir} classifies text pairs (data.text_pair_column "
                f"{pair_column!r}); give them with --file F, a .csv, .tsv, .jsonl or .parquet "
                "file with both columns."
            )
        if not pair_column and any(isinstance(t, tuple) for t in texts):
            raise HpoError(f"predict: {self.model_dir} classifies single texts, not pairs.")
        id2label = self.id2label
        chunk = batch_size * CHUNK_BATCHES
        for start in range(0, len(texts), chunk):
            part = texts[start : start + chunk]
            firsts, seconds = split_pairs(part, pairs=bool(pair_column))
            probs = self._served(part, firsts, seconds, batch_size)
            for i, row in enumerate(probs):
                best = int(row.argmax())
                out = {
                    "label": id2label[best],
                    "probability": round(float(row[best]), 4),
                    "probabilities": {id2label[k]: round(float(p), 4) for k, p in enumerate(row)},
                    "text": _short(firsts[i]),
                }
                if seconds is not None:
                    out["text_pair"] = _short(seconds[i])
                yield out

    def _served(
        self,
        texts: Sequence[Text],
        firsts: list[str],
        seconds: list[str] | None,
        batch_size: int,
    ) -> np.ndarray:
        """What the record says is served: the transformer's probabilities, TF-IDF's, or
        their mix at the record's weight."""
        weight = self.record.weight
        probs = None
        if weight > 0.0:
            ids = encode_texts(self.tokenizer, self.record, texts)
            probs = self._probabilities(ids, batch_size)
        if self.classical is None:
            assert probs is not None
            return probs
        columns = [firsts] if seconds is None else [firsts, seconds]
        classical = self.classical.probabilities(columns).astype(np.float32)
        return classical if probs is None else mix(probs, classical, weight)

    def _probabilities(self, ids: dict[str, list[list[int]]], batch_size: int) -> np.ndarray:
        """Class probabilities of encoded texts, in their order, scored shortest first."""
        import torch

        n = len(ids["input_ids"])
        order = np.argsort([len(x) for x in ids["input_ids"]], kind="stable")
        parts = [order[start : start + batch_size] for start in range(0, n, batch_size)]
        batches = [
            {key: [values[i] for i in rows] for key, values in ids.items()} for rows in parts
        ]
        probs = np.empty((n, len(self.id2label)), dtype=np.float32)
        if self.fast:
            # The scorer keeps several batches in flight: it is given the whole chunk.
            padded = [self.tokenizer.pad(batch, return_tensors="np") for batch in batches]
            for rows, logits in zip(parts, self._scorer.logits(padded), strict=True):
                probs[rows] = torch.from_numpy(logits).softmax(-1).numpy()
            return probs
        for rows, batch in zip(parts, batches, strict=True):
            enc = self.tokenizer.pad(batch, return_tensors="pt")
            with torch.inference_mode():
                logits = self.model(**enc).logits.float()
            probs[rows] = logits.softmax(-1).numpy()
        return probs


#: Texts a forward pass of the PyTorch model, and of the fast one (two batches are in flight
#: there, one a core; bench/predict_speed.py measures both sizes).
BATCH_SIZE = 32
FAST_BATCH_SIZE = 16


def split_pairs(texts: Sequence[Text], *, pairs: bool) -> tuple[list[str], list[str] | None]:
    """The first texts and (for a pair model) the second ones of ``texts``."""
    firsts = [t[0] if isinstance(t, tuple) else t for t in texts]
    return firsts, ([t[1] for t in texts if isinstance(t, tuple)] if pairs else None)


def encode_texts(
    tokenizer: Any, record: ModelRecord, texts: Sequence[Text]
) -> dict[str, list[list[int]]]:
    """``texts`` (or ``(text, pair)`` tuples) as the model of ``record`` was trained to read
    them: its length, truncation and head share, pairs as pairs. Unpadded token ids."""
    firsts, seconds = split_pairs(texts, pairs=bool(record.text_pair_column))
    return encode(
        tokenizer,
        firsts,
        seconds,
        max_length=record.max_length,
        truncation=record.truncation,
        head_fraction=record.head_fraction,
    )


#: Texts are sorted by length within chunks of this many batches: less padding, and answers
#: still stream out chunk by chunk.
CHUNK_BATCHES = 32


def predict(
    model_dir: str | Path,
    texts: Iterable[Text],
    *,
    batch_size: int | None = None,
    fast: bool = False,
) -> Iterator[dict[str, Any]]:
    """Yield ``{"label", "probability", "probabilities", "text"}`` per text, chunk by chunk
    (see :class:`Predictor`); no text, or an empty one, fails before the model loads."""
    texts = _checked(texts)
    yield from Predictor(model_dir, fast=fast).iter_predict(texts, batch_size=batch_size)


def _checked(texts: Iterable[Text]) -> list[Text]:
    texts = list(texts)
    if not texts or any(not "".join(t).strip() for t in texts):
        raise HpoError(
            "predict: no text given (or an empty one). Pass texts as arguments, "
            "with --file F (.txt a text per line; .csv, .tsv, .jsonl or .parquet by their "
            "text column), or on standard input with --file -."
        )
    return texts


def _short(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."


#: ``--file`` formats read by column; any other file is read a review per line.
TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".parquet")


def read_texts(
    path: str,
    *,
    text_column: str = "text",
    pair_column: str | None = None,
    command: str = "predict",
) -> list[Any]:
    """Texts from a file: ``.csv``/``.tsv``/``.jsonl``/``.parquet`` by their ``text_column``
    (the header is not a text); ``.txt``, any other file and ``-`` (standard input) one per
    non-empty line. With ``pair_column`` (a table file only): ``(text, pair)`` tuples.
    ``command`` begins each error: the one whose file it is."""
    import sys

    file = Path(path).expanduser().absolute() if path != "-" else Path("-")
    suffix = file.suffix.lower()
    if pair_column and suffix not in TABLE_SUFFIXES:
        raise HpoError(
            f"{command}: {path}: a text-pair model reads pairs from a .csv, .tsv, .jsonl or "
            f".parquet file with columns {text_column!r} and {pair_column!r}."
        )
    if path == "-":
        return [line for line in sys.stdin.read().splitlines() if line.strip()]
    try:
        if suffix not in TABLE_SUFFIXES:
            lines = file.read_text(encoding="utf-8").splitlines()
            return [line for line in lines if line.strip()]
        rows = _read_table(file, suffix)
    except OSError as exc:
        raise HpoError(f"{command}: cannot read {file}: {exc.strerror}.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise HpoError(f"{command}: {file} is not valid {suffix[1:]}: {exc}.") from None
    columns = [(text_column, "--text-column")]
    if pair_column:
        columns.append((pair_column, "--pair-column"))
    found: list[list[Any]] = [[] for _ in columns]
    for i, row in enumerate(rows, start=1):
        for (column, flag), values in zip(columns, found, strict=True):
            if column not in row:
                raise HpoError(
                    f"{command}: {file} row {i} has no column {column!r} (columns: "
                    f"{', '.join(map(str, row))}). Pass {flag}."
                )
            values.append(row[column])
    for (column, _), values in zip(columns, found, strict=True):
        bad = [i for i, t in enumerate(values, 1) if not isinstance(t, str) or not t.strip()]
        if bad:
            raise HpoError(
                f"{command}: {file}: {len(bad)} empty or missing texts in column {column!r} "
                f"(first at row {bad[0]}). Remove those rows."
            )
    return list(zip(*found, strict=True)) if pair_column else found[0]


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
