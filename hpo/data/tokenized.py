"""Tokenize the splits of a stage once and cache them on disk.

Tokenized splits are cached under a key built from the data's content fingerprint, the
tokenizer's content hash, ``max_length``, the columns, the label names and the split settings,
so every trial and every later run reuses them; a cache entry appears whole or not at all.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpo.data.labels import names_of
from hpo.data.sources import load_raw, locate
from hpo.data.splits import STAGES, stage_splits
from hpo.data.truncation import describe, encode

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict
    from transformers import PreTrainedTokenizerBase

    from hpo.config.schema import DataSection

logger = logging.getLogger(__name__)

#: Bump when the tokenized layout changes, so old cache entries are not reused.
_CACHE_VERSION = 2


def default_cache_dir() -> Path:
    """``$HPO_CACHE_DIR``, else ``$XDG_CACHE_HOME/hpo``, else ``~/.cache/hpo``."""
    if os.environ.get("HPO_CACHE_DIR"):
        return Path(os.environ["HPO_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hpo"


def tokenizer_fingerprint(tokenizer: PreTrainedTokenizerBase) -> str:
    """A content hash of the tokenizer (vocab, normalizer, special tokens), not of its name."""
    digest = hashlib.sha256(type(tokenizer).__name__.encode())
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        state = json.loads(backend.to_str())
        # Truncation/padding are per-call state that a tokenizer call leaves behind, not identity.
        state.pop("truncation", None)
        state.pop("padding", None)
        digest.update(json.dumps(state, sort_keys=True).encode())
    else:  # slow tokenizer: the vocab decides the ids
        digest.update(json.dumps(sorted(tokenizer.get_vocab().items())).encode())
    digest.update(f"{tokenizer.truncation_side}|{tokenizer.model_max_length}".encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Prepared:
    """Tokenized splits plus what identifies them."""

    splits: dict[str, Dataset]
    data_fingerprint: str
    cache_key: str
    cache_hit: bool
    #: What decides which examples are trained and scored on, how they are tokenized and what
    #: their classes are (config key -> value): stored with a study, which refuses a resume
    #: that changes it.
    identity: dict[str, Any]
    #: The class names, by id (the ``ClassLabel`` of the ``label`` column).
    labels: tuple[str, ...]
    #: True when the data had no test split and the test split was carved from train.
    test_carved: bool


def prepare(
    cfg: DataSection,
    tokenizer: PreTrainedTokenizerBase,
    *,
    stage: str = "search",
) -> Prepared:
    """Tokenized splits for a stage, from the cache when possible.

    ``stage="search"``: ``train`` (capped) and ``validation``. ``stage="final"``: ``train``
    (train plus validation) and ``test``; ``"holdout"``: ``train`` (without validation),
    ``validation`` and ``test``, uncapped; see :mod:`hpo.data.splits` for how they are made.
    """
    from datasets import DatasetDict, load_from_disk

    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
    source = locate(cfg)
    raw = None
    data_fp = source.fingerprint
    if source.kind == "hub":  # the hub's fingerprint needs the (locally cached) dataset
        raw, data_fp = load_raw(cfg, source)
        has = set(raw)
    else:
        has = {split for split, paths in source.files.items() if paths}
    key_fields: dict[str, Any] = {
        "v": _CACHE_VERSION,
        "stage": stage,
        "data": data_fp,
        "text": cfg.text_column,
        "text_pair_column": cfg.text_pair_column,
        "label": cfg.label_column,
        "label_names": cfg.label_names,
        "tokenizer": tokenizer_fingerprint(tokenizer),
        "max_length": cfg.max_length,
        "truncation": describe(cfg.truncation, cfg.head_fraction),
        "drop_test_overlap": cfg.drop_test_overlap,
        "seed": cfg.split_seed,
    }
    # A fraction counts only where a split is carved with it.
    if "test" not in has:
        key_fields["test_fraction"] = cfg.test_fraction
    if stage == "search":
        key_fields |= {"max_train": cfg.max_train_samples, "max_eval": cfg.max_eval_samples}
    if stage in ("search", "holdout") and "validation" not in has:
        key_fields["val"] = cfg.validation_fraction
    key = hashlib.sha256(json.dumps(key_fields, sort_keys=True).encode()).hexdigest()[:20]
    root = Path(cfg.cache_dir) if cfg.cache_dir else default_cache_dir()
    entry = root / "tokenized" / key
    if (entry / "dataset_dict.json").exists():
        logger.info("Tokenized %s splits found in cache %s", stage, entry)
        splits = dict(load_from_disk(str(entry)))
        return _prepared(splits, data_fp, key, key_fields, cache_hit=True)

    if raw is None:
        raw, data_fp = load_raw(cfg, source)
    made = stage_splits(raw, cfg, stage)
    logger.info(
        "Tokenizing %s (max_length=%d, truncation %s%s) ...",
        ", ".join(f"{k}={len(v)}" for k, v in made.splits.items()),
        cfg.max_length,
        describe(cfg.truncation, cfg.head_fraction),
        ", text pairs" if cfg.text_pair_column else "",
    )
    cut = {"truncation": cfg.truncation, "head_fraction": cfg.head_fraction}
    tokenized = DatasetDict(
        {k: tokenize(v, tokenizer, cfg.max_length, **cut) for k, v in made.splits.items()}
    )
    _save_atomically(tokenized, entry)
    logger.info("Cached tokenized splits in %s", entry)
    splits = dict(load_from_disk(str(entry)))
    return _prepared(splits, data_fp, key, key_fields, cache_hit=False)


#: Cache-key fields under the config keys a user knows, for the study's data identity.
_IDENTITY_NAMES = {
    "data": "data fingerprint",
    "tokenizer": "tokenizer fingerprint",
    "val": "data.validation_fraction",
    "seed": "data.split_seed",
    "max_train": "data.max_train_samples",
    "max_eval": "data.max_eval_samples",
    "text": "data.text_column",
    "label": "data.label_column",
}


def _prepared(
    splits: dict[str, Dataset],
    data_fp: str,
    key: str,
    key_fields: dict[str, Any],
    *,
    cache_hit: bool,
) -> Prepared:
    identity = {
        _IDENTITY_NAMES.get(k, f"data.{k}"): v
        for k, v in key_fields.items()
        if k not in ("v", "stage")
    }
    labels = tuple(names_of(splits["train"]))
    identity["labels"] = list(labels)
    return Prepared(
        splits,
        data_fp,
        key,
        cache_hit=cache_hit,
        identity=identity,
        labels=labels,
        test_carved="test_fraction" in key_fields,
    )


def tokenize(
    ds: Dataset,
    tokenizer: PreTrainedTokenizerBase,
    max_length: int,
    *,
    truncation: str = "head",
    head_fraction: float = 0.25,
) -> Dataset:
    """Truncate to ``max_length`` (see :mod:`hpo.data.truncation`) without padding; keep a
    ``length`` column for length grouping.

    A ``text_pair`` column is tokenized with ``text`` as one pair; truncation then takes tokens
    from the longer side first, so both sides keep a share.
    """
    pairs = "text_pair" in ds.column_names

    def encode_batch(batch: dict[str, list[Any]]) -> dict[str, Any]:
        second = batch["text_pair"] if pairs else None
        enc = encode(
            tokenizer,
            batch["text"],
            second,
            max_length=max_length,
            truncation=truncation,
            head_fraction=head_fraction,
        )
        enc["length"] = [len(ids) for ids in enc["input_ids"]]
        return enc

    return ds.map(
        encode_batch,
        batched=True,
        batch_size=1000,
        remove_columns=["text", "text_pair"] if pairs else ["text"],
        desc="Tokenizing",
        load_from_cache_file=False,
    )


def _save_atomically(ds: DatasetDict, entry: Path) -> None:
    # Two processes (workers, or a crash halfway) must never see a half-written cache entry.
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=entry.parent))
    try:
        ds.save_to_disk(str(tmp))
        try:
            tmp.rename(entry)
        except OSError:  # another process won the race; its copy is identical
            if not (entry / "dataset_dict.json").exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def real_tokens(ds: Dataset) -> int:
    """Sum of unpadded token counts of a tokenized split."""
    return int(sum(ds["length"]))
