"""Raw data: locate (hub id, parquet/csv/jsonl folder, aclImdb tree), load, check, split.

The search sees only train (minus a seeded, stratified validation split) and validation; the
test split is loaded for the final stage alone. :mod:`hpo.prepare` tokenizes the splits once
and caches them.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hpo.errors import DataError, OfflineError
from hpo.hub import datasets_offline, local_only

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict

    from hpo.config import DataSection

logger = logging.getLogger(__name__)

#: Label ids are fixed: 0 = negative, 1 = positive (IMDb's and SST-2's convention).
LABEL_NAMES = ("neg", "pos")
LABEL_ALIASES = {"neg": 0, "negative": 0, "0": 0, "pos": 1, "positive": 1, "1": 1}
_FILE_FORMATS = {".parquet": "parquet", ".csv": "csv", ".jsonl": "json", ".json": "json"}


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
            f"data.path: {root} does not exist. Point it at a folder with train/test "
            "parquet, csv or jsonl files, or at an aclImdb/ tree "
            "(e.g. --set data.path=../shared/data/imdb; in a config file, paths are relative "
            "to the file's folder)."
        )
    if not root.is_dir():
        raise DataError(
            f"data.path: {root} is a file; give the folder that holds train.* and test.* files."
        )
    for candidate in (root, root / "aclImdb"):
        if (candidate / "train" / "pos").is_dir() and (candidate / "train" / "neg").is_dir():
            return _aclimdb_source(candidate)
    files = {split: _split_files(root, split) for split in ("train", "test")}
    if not files["train"]:
        raise DataError(
            f"data.path: no training data in {root}: expected train.parquet, train.csv, "
            "train.jsonl (or train-*.parquet shards), or an aclImdb/train/{pos,neg} tree."
        )
    formats = {_FILE_FORMATS[p.suffix] for paths in files.values() for p in paths}
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
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.digest()


def _aclimdb_source(root: Path) -> Source:
    files: dict[str, list[Path]] = {}
    digest = hashlib.sha256()
    for split in ("train", "test"):
        paths = []
        for label in LABEL_NAMES:
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
    """Load train (and test, when present) as a ``DatasetDict`` with columns text/label.

    Returns the dataset and the content fingerprint. Labels are mapped to 0 = neg, 1 = pos.
    """
    from datasets import Dataset, DatasetDict

    source = source or locate(cfg)
    if source.kind == "hub":
        raw, fingerprint = _load_hub(cfg)
    elif source.kind == "aclimdb":
        raw = DatasetDict(
            {
                split: Dataset.from_dict(
                    {
                        "text": [p.read_text(encoding="utf-8") for p in paths],
                        "label": [LABEL_NAMES.index(p.parent.name) for p in paths],
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
    checked = DatasetDict(
        {
            split: normalize(
                ds,
                text_column=cfg.text_column,
                label_column=cfg.label_column,
                where=f"{where} ({split} split)",
            )
            for split, ds in raw.items()
            if split in ("train", "test")
        }
    )
    if "train" not in checked:
        raise DataError(f"{where}: no 'train' split found.")
    if cfg.drop_test_overlap:
        if "test" not in checked:
            raise DataError(f"data.drop_test_overlap: {where} has no test split to compare with.")
        overlap = set(train_test_overlap(checked["train"], checked["test"]))
        before = len(checked["train"])
        checked["train"] = checked["train"].filter(
            lambda b: [t not in overlap for t in b["text"]], batched=True
        )
        logger.info(
            "Dropped %d training reviews that also appear in test (%d distinct texts).",
            before - len(checked["train"]),
            len(overlap),
        )
    return checked, fingerprint


def train_test_overlap(train: Dataset, test: Dataset) -> list[str]:
    """Distinct texts present in both splits, in train order (a leak if left in train)."""
    test_texts = set(test["text"])
    seen: set[str] = set()
    out = []
    for text in train["text"]:
        if text in test_texts and text not in seen:
            seen.add(text)
            out.append(text)
    return out


def labels_agree(train: Dataset, test: Dataset, texts: list[str]) -> list[bool]:
    """For each of ``texts`` (present in both splits): whether it has the same labels in both."""
    wanted = set(texts)
    labels: dict[str, tuple[set[int], set[int]]] = {t: (set(), set()) for t in texts}
    for side, split in enumerate((train, test)):
        for text, label in zip(split["text"], split["label"], strict=True):
            if text in wanted:
                labels[text][side].add(label)
    return [labels[t][0] == labels[t][1] for t in texts]


def _load_files(source: Source) -> DatasetDict:
    from datasets import load_dataset

    files = {split: [str(p) for p in paths] for split, paths in source.files.items() if paths}
    fmt = _FILE_FORMATS[Path(files["train"][0]).suffix]
    try:
        return load_dataset(fmt, data_files=files)
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
            "train/test parquet, csv or jsonl, or an aclImdb tree), and export HF_HUB_OFFLINE=1."
        ) from None
    fingerprint = hashlib.sha256(
        "|".join(f"{k}:{v._fingerprint}" for k, v in sorted(raw.items())).encode()
    ).hexdigest()[:16]
    return raw, fingerprint


def normalize(ds: Dataset, *, text_column: str, label_column: str, where: str) -> Dataset:
    """Check one split and bring it to columns ``text`` (str) and ``label`` (ClassLabel neg/pos)."""
    from datasets import ClassLabel, Features, Value

    for key, column in (("text_column", text_column), ("label_column", label_column)):
        if column not in ds.column_names:
            raise DataError(
                f"{where}: no column {column!r} (columns: "
                f"{', '.join(ds.column_names)}). Set data.{key}."
            )
    ds = ds.select_columns([text_column, label_column])
    if text_column != "text":
        ds = ds.rename_column(text_column, "text")
    if label_column != "label":
        ds = ds.rename_column(label_column, "label")
    if len(ds) == 0:
        raise DataError(f"{where}: the split is empty.")

    texts = ds["text"]
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()]
    if bad:
        raise DataError(
            f"{where}: {len(bad)} empty or missing texts (first at row {bad[0]}). "
            "Remove those rows."
        )

    feature = ds.features["label"]
    if isinstance(feature, ClassLabel):
        names = [n.lower() for n in feature.names]
        mapping = {i: LABEL_ALIASES.get(n) for i, n in enumerate(names)}
        if len(names) != 2 or None in mapping.values() or len(set(mapping.values())) != 2:
            raise DataError(f"{where}: labels must be binary neg/pos, got classes {feature.names}.")
        values = ds.unique("label")
    else:
        values = ds.unique("label")
        mapping = {}
        for value in values:
            key = str(value).strip().lower() if not isinstance(value, bool) else str(int(value))
            if isinstance(value, float) and value in (0.0, 1.0):
                key = str(int(value))
            if key not in LABEL_ALIASES:
                raise DataError(
                    f"{where}: labels must be binary (0/1, neg/pos, negative/positive), but "
                    f"found {value!r} among {sorted(map(str, values))[:6]}. Drop or map the "
                    "other labels (e.g. -1 marks IMDb's unlabeled reviews)."
                )
            mapping[value] = LABEL_ALIASES[key]
    features = Features({"text": Value("string"), "label": ClassLabel(names=list(LABEL_NAMES))})
    if (
        all(k == v for k, v in mapping.items())
        and isinstance(feature, (ClassLabel, Value))
        and getattr(feature, "dtype", "int64").startswith("int")
    ):
        ds = ds.cast(features)
    else:
        ds = ds.map(
            lambda b: {"label": [mapping[v] for v in b["label"]]}, batched=True, features=features
        )
    return ds


# --------------------------------------------------------------------------------------------
# Splitting
# --------------------------------------------------------------------------------------------


def split_train(train: Dataset, cfg: DataSection) -> tuple[Dataset, Dataset]:
    """Carve the seeded, stratified validation split, then apply the subset caps (stratified)."""
    counts = _class_counts(train)
    if min(counts) < 2:
        raise DataError(
            f"data: the training split needs at least 2 examples of each class to "
            f"stratify, got neg={counts[0]}, pos={counts[1]}."
        )
    parts = train.train_test_split(
        test_size=cfg.validation_fraction, seed=cfg.split_seed, stratify_by_column="label"
    )
    search_train, validation = parts["train"], parts["test"]
    search_train = _cap(search_train, cfg.max_train_samples, cfg.split_seed)
    validation = _cap(validation, cfg.max_eval_samples, cfg.split_seed)
    return search_train, validation


def _cap(ds: Dataset, cap: int | None, seed: int) -> Dataset:
    if cap is None or cap >= len(ds):
        return ds
    return ds.train_test_split(train_size=cap, seed=seed, stratify_by_column="label")["train"]


def _class_counts(ds: Dataset) -> tuple[int, int]:
    labels = ds["label"]
    ones = int(sum(labels))
    return len(labels) - ones, ones
