"""Raw data: locate (hub id, a folder of parquet/csv/tsv/jsonl files, an aclImdb tree), load,
check, and encode the labels (see :mod:`hpo.data.labels`).

:mod:`hpo.data.splits` turns the loaded splits into a stage's train/validation/test, and
:mod:`hpo.data.tokenized` tokenizes those once and caches them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hpo.data.hub import datasets_offline, local_only
from hpo.data.labels import encode, infer_labels
from hpo.errors import DataError, OfflineError
from hpo.runs import sha256_of

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict

    from hpo.config.schema import DataSection

logger = logging.getLogger(__name__)

#: The class folders of an aclImdb tree; their names are the labels.
ACLIMDB_LABELS = ("neg", "pos")
#: The splits a data folder may hold, by file name; only train is required.
SPLITS = ("train", "validation", "test")
#: File suffix -> ``datasets`` loader and its arguments.
_FILE_FORMATS: dict[str, tuple[str, dict[str, str]]] = {
    ".parquet": ("parquet", {}),
    ".csv": ("csv", {}),
    ".tsv": ("csv", {"delimiter": "\t"}),
    ".jsonl": ("json", {}),
    ".json": ("json", {}),
}


@dataclass(frozen=True)
class Source:
    """Where the raw data is, and a fingerprint of its content that is cheap to compute."""

    kind: str  # "files", "aclimdb" or "hub"
    location: str
    files: dict[str, list[Path]]
    fingerprint: str


# --------------------------------------------------------------------------------------------
# Locating and fingerprinting the raw data
# --------------------------------------------------------------------------------------------


def locate(cfg: DataSection) -> Source:
    """Find the data named by the config, without reading it all."""
    if cfg.path is None:
        assert cfg.dataset is not None  # checked at config load
        return Source("hub", cfg.dataset, {}, fingerprint="")
    root = Path(cfg.path).expanduser().absolute()
    if not root.exists():
        raise DataError(
            f"data.path: {root} does not exist. Point it at a folder with train (and "
            "optional validation, test) parquet, csv, tsv or jsonl files, or at an aclImdb/ tree "
            "(e.g. --set data.path=../shared/data/imdb; in a config file, paths are relative "
            "to the file's folder)."
        )
    if not root.is_dir():
        raise DataError(
            f"data.path: {root} is a file; give the folder that holds train.* (and "
            "validation.*, test.*) files."
        )
    for candidate in (root, root / "aclImdb"):
        if (candidate / "train" / "pos").is_dir() and (candidate / "train" / "neg").is_dir():
            return _aclimdb_source(candidate)
    files = {split: _split_files(root, split) for split in SPLITS}
    if not files["train"]:
        raise DataError(
            f"data.path: no training data in {root}: expected train.parquet, train.csv, "
            "train.tsv, train.jsonl (or train-*.parquet shards), or an aclImdb/train/{pos,neg} "
            "tree."
        )
    for other in ("dev", "valid", "val", "eval"):
        if _split_files(root, other):
            logger.warning(
                "data.path: %s has %s.* files, which hpo does not read; name the validation "
                "split validation.* to use it (without one, validation is carved from train).",
                root,
                other,
            )
    formats = {p.suffix[1:] for paths in files.values() for p in paths}
    if len(formats) > 1:
        raise DataError(
            f"data.path: {root} mixes file formats ({', '.join(sorted(formats))});"
            " keep one format per folder."
        )
    digest = hashlib.sha256()
    for split, paths in files.items():
        for path in paths:
            digest.update(f"{split}:{path.name}:".encode())
            digest.update(_file_digest(path))
    return Source("files", str(root), files, fingerprint=digest.hexdigest()[:16])


def _split_files(root: Path, split: str) -> list[Path]:
    found: list[Path] = []
    for suffix in _FILE_FORMATS:
        found += sorted(root.glob(f"{split}{suffix}")) + sorted(root.glob(f"{split}-*{suffix}"))
    return found


def _file_digest(path: Path) -> bytes:
    """The file's content hash, read once per process while its size and mtime stay (every
    stage of one ``hpo run`` locates the data again)."""
    stat = path.stat()
    key = (str(path.absolute()), stat.st_size, stat.st_mtime_ns)
    if key not in _DIGESTS:
        _DIGESTS[key] = _hash_file(path)
    return _DIGESTS[key]


def _hash_file(path: Path) -> bytes:
    return bytes.fromhex(sha256_of(path))


#: Content hashes by (path, size, mtime): :func:`_file_digest`.
_DIGESTS: dict[tuple[str, int, int], bytes] = {}
#: The data sets loaded in this process, newest last (:func:`load_raw`); a few at most, since
#: a run needs one and each holds its texts in memory.
_LOADED: dict[str, tuple[DatasetDict, str]] = {}
_LOADED_KEEP = 2
#: DataSection keys that decide how the data is split, cut and tokenized, not what is read:
#: the same loaded data serves every value of them.
_NOT_READ = frozenset(
    {
        "validation_fraction",
        "test_fraction",
        "split_seed",
        "max_train_samples",
        "max_eval_samples",
        "max_length",
        "truncation",
        "head_fraction",
        "drop_test_overlap",
        "cache_dir",
        "positive_label",
    }
)


def _aclimdb_source(root: Path) -> Source:
    files: dict[str, list[Path]] = {}
    digest = hashlib.sha256()
    for split in ("train", "test"):
        paths = []
        for label in ACLIMDB_LABELS:
            folder = root / split / label
            if folder.is_dir():
                paths += sorted(folder.glob("*.txt"), key=_review_id)
        files[split] = paths
        # Names and sizes are enough to notice an edited tree, and cost a stat, not a read.
        for path in paths:
            digest.update(f"{split}/{path.parent.name}/{path.name}:{path.stat().st_size}".encode())
    return Source("aclimdb", str(root), files, fingerprint=digest.hexdigest()[:16])


def _review_id(path: Path) -> tuple[int, str]:
    head = path.stem.split("_", 1)[0]
    return (int(head), path.name) if head.isdigit() else (1 << 62, path.name)


# --------------------------------------------------------------------------------------------
# Loading and checking
# --------------------------------------------------------------------------------------------


def load_raw(cfg: DataSection, source: Source | None = None) -> tuple[DatasetDict, str]:
    """Load train (and validation, test, when present) as a ``DatasetDict`` with columns
    ``text``, ``text_pair`` (with ``data.text_pair_column``) and ``label`` (a ``ClassLabel``
    whose classes come from the training split).

    Returns the dataset and the content fingerprint. Read once per process for the same files
    and columns: the search, the final stage, the baselines and the report share one load.
    """
    source = source or locate(cfg)
    read = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in _NOT_READ}
    key = json.dumps([source.kind, source.location, source.fingerprint, read], sort_keys=True)
    if key not in _LOADED:
        _LOADED[key] = _read(cfg, source)
        while len(_LOADED) > _LOADED_KEEP:
            del _LOADED[next(iter(_LOADED))]
    return _LOADED[key]


def _read(cfg: DataSection, source: Source) -> tuple[DatasetDict, str]:
    from datasets import Dataset, DatasetDict

    if source.kind == "hub":
        raw, fingerprint = _load_hub(cfg)
    elif source.kind == "aclimdb":
        raw = DatasetDict(
            {
                split: Dataset.from_dict(
                    {
                        "text": [p.read_text(encoding="utf-8") for p in paths],
                        "label": [p.parent.name for p in paths],
                    }
                )
                for split, paths in source.files.items()
                if paths
            }
        )
        fingerprint = source.fingerprint
    else:
        raw = _load_files(source)
        fingerprint = source.fingerprint
    where = {"hub": f"data.dataset {cfg.dataset!r}"}.get(source.kind, f"data.path {cfg.path}")
    if "train" not in raw:
        raise DataError(f"{where}: no 'train' split found.")
    checked = {
        split: normalize(ds, cfg, where=f"{where} ({split} split)")
        for split, ds in raw.items()
        if split in SPLITS
    }
    labels = infer_labels(
        checked["train"], label_names=cfg.label_names, where=f"{where} (train split)"
    )
    encoded = DatasetDict(
        {
            split: encode(ds, labels, label_names=cfg.label_names, where=f"{where} ({split} split)")
            for split, ds in checked.items()
        }
    )
    return encoded, fingerprint


def _load_files(source: Source) -> DatasetDict:
    from datasets import load_dataset

    files = {split: [str(p) for p in paths] for split, paths in source.files.items() if paths}
    fmt, options = _FILE_FORMATS[Path(files["train"][0]).suffix]
    try:
        return load_dataset(fmt, data_files=files, **options)
    except Exception as exc:  # pyarrow/pandas/json parsers raise many types; all mean "bad file".
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"data.path {source.location}: cannot read {fmt} files: {first}") from None


def _load_hub(cfg: DataSection) -> tuple[DatasetDict, str]:
    from datasets import load_dataset

    try:
        with datasets_offline(local_only()):
            raw = load_dataset(cfg.dataset)
    except Exception as exc:  # offline, missing repo, auth: all end in "use a local copy".
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise OfflineError(
            f"data.dataset: cannot load {cfg.dataset!r} from the Hugging Face Hub "
            f"({reason[:200]}). "
            "Without network, point at a local copy: --set data.path=PATH (a folder of "
            "train/validation/test parquet, csv, tsv or jsonl, or an aclImdb tree), and export "
            "HF_HUB_OFFLINE=1."
        ) from None
    fingerprint = hashlib.sha256(
        "|".join(f"{k}:{v._fingerprint}" for k, v in sorted(raw.items())).encode()
    ).hexdigest()[:16]
    return raw, fingerprint


def normalize(ds: Dataset, cfg: DataSection, *, where: str) -> Dataset:
    """Check one split and bring it to columns ``text`` (and ``text_pair``) and ``label``
    (raw values; :func:`hpo.data.labels.encode` turns them into ids)."""
    columns = {"text": cfg.text_column, "label": cfg.label_column}
    keys = {"text": "text_column", "label": "label_column", "text_pair": "text_pair_column"}
    if cfg.text_pair_column is not None:
        columns["text_pair"] = cfg.text_pair_column
    for ours, column in columns.items():
        if column not in ds.column_names:
            raise DataError(
                f"{where}: no column {column!r} (columns: "
                f"{', '.join(ds.column_names)}). Set data.{keys[ours]}."
            )
    ds = ds.select_columns(list(columns.values()))
    ds = ds.rename_columns({theirs: ours for ours, theirs in columns.items() if theirs != ours})
    if len(ds) == 0:
        raise DataError(f"{where}: the split is empty.")
    for ours in ("text", "text_pair"):
        if ours not in columns:
            continue
        texts = ds[ours]
        bad = [i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()]
        if bad:
            raise DataError(
                f"{where}: {len(bad)} empty or missing texts in column {columns[ours]!r} "
                f"(first at row {bad[0]}). Remove those rows."
            )
    return ds
