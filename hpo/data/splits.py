"""From the loaded splits to what a stage trains and scores on.

The order is fixed, so that nothing the search sees can leak into the test figure:

1. Without a test split, one is carved from train (``data.test_fraction``, seeded, stratified)
   before anything else.
2. ``data.drop_test_overlap`` drops training examples whose text is also in test.
3. The search scores on the data's validation split; without one it carves
   ``data.validation_fraction`` of what is left of train (seeded, stratified).
4. The subset caps (``max_train_samples``, ``max_eval_samples``) take stratified subsets.

The final stage trains on train plus validation and scores on test; when it hands over the
best model on validation (``study.ship: best``) it trains on train without validation
(``stage="holdout"``), so that validation, whole and uncapped, can choose between the models
that did not train on it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hpo.data.labels import class_counts, names_of
from hpo.data.sources import load_raw
from hpo.errors import DataError

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict

    from hpo.config.schema import DataSection

logger = logging.getLogger(__name__)

STAGES = ("search", "final", "holdout")


@dataclass(frozen=True)
class StageSplits:
    """The raw (untokenized) splits of a stage, and where its test split came from."""

    splits: dict[str, Dataset]
    #: True when the data had no test split and one was carved from train.
    test_carved: bool
    #: True when the data had a validation split of its own.
    validation_given: bool


def stage_splits(raw: DatasetDict, cfg: DataSection, stage: str) -> StageSplits:
    """``stage="search"``: train (capped) and validation. ``"final"``: train (train plus
    validation) and test. ``"holdout"``: train (without validation, uncapped), validation
    (uncapped) and test."""
    from datasets import concatenate_datasets

    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
    train, test, carved = carve_test(raw, cfg)
    if cfg.drop_test_overlap:
        train = drop_overlap(train, test)
    given = raw.get("validation")
    if stage == "final":
        whole = concatenate_datasets([train, given]) if given is not None else train
        return StageSplits({"train": whole, "test": test}, carved, given is not None)
    if stage == "holdout":
        if given is None:
            train, given = stratified_split(
                train, cfg.validation_fraction, cfg.split_seed, what="validation split"
            )
        splits = {"train": train, "validation": given, "test": test}
        return StageSplits(splits, carved, "validation" in raw)
    if given is not None:
        validation = given
        train = cap(train, cfg.max_train_samples, cfg.split_seed, key="max_train_samples")
    else:
        train, validation = split_train(train, cfg)
    validation = cap(validation, cfg.max_eval_samples, cfg.split_seed, key="max_eval_samples")
    return StageSplits({"train": train, "validation": validation}, carved, given is not None)


def final_splits(cfg: DataSection) -> StageSplits:
    """The final stage's raw train and test, loaded: the baselines and the report use them."""
    raw, _ = load_raw(cfg)
    return stage_splits(raw, cfg, "final")


def carve_test(raw: DatasetDict, cfg: DataSection) -> tuple[Dataset, Dataset, bool]:
    """Train and test: the data's own test split, or one carved from train first."""
    if "test" in raw:
        return raw["train"], raw["test"], False
    train, test = stratified_split(
        raw["train"], cfg.test_fraction, cfg.split_seed, what="test split (data.test_fraction)"
    )
    logger.info(
        "No test split in the data: carved %d of %d training examples as the test split "
        "(data.test_fraction=%s, seed %d, stratified), before the search.",
        len(test),
        len(raw["train"]),
        cfg.test_fraction,
        cfg.split_seed,
    )
    return train, test, True


def drop_overlap(train: Dataset, test: Dataset) -> Dataset:
    """``train`` without the examples whose text is also in ``test``."""
    overlap = set(train_test_overlap(train, test))
    kept = train.filter(lambda b: [t not in overlap for t in b["text"]], batched=True)
    logger.info(
        "Dropped %d training examples that also appear in test (%d distinct texts).",
        len(train) - len(kept),
        len(overlap),
    )
    return kept


def split_train(train: Dataset, cfg: DataSection) -> tuple[Dataset, Dataset]:
    """Carve the seeded, stratified validation split, then apply the subset caps (stratified)."""
    search_train, validation = stratified_split(
        train, cfg.validation_fraction, cfg.split_seed, what="validation split"
    )
    search_train = cap(search_train, cfg.max_train_samples, cfg.split_seed, key="max_train_samples")
    validation = cap(validation, cfg.max_eval_samples, cfg.split_seed, key="max_eval_samples")
    return search_train, validation


def stratified_split(
    ds: Dataset, fraction: float, seed: int, *, what: str
) -> tuple[Dataset, Dataset]:
    """(rest, carved): ``fraction`` of ``ds`` carved with every class in both parts."""
    counts = class_counts(ds)
    names = names_of(ds)
    small = [(names[i], n) for i, n in enumerate(counts) if n < 2]
    if small:
        name, count = small[0]
        raise DataError(
            f"data: class {name!r} has {count} training example(s); carving the {what} "
            "stratified needs at least 2 per class. Add examples of that class, drop it, or "
            "give the split as its own file."
        )
    n_carved = round(len(ds) * fraction)
    n_classes = len(counts)
    if n_carved < n_classes or len(ds) - n_carved < n_classes:
        raise DataError(
            f"data: a {what} of {fraction} of {len(ds)} examples ({n_carved}) cannot hold each "
            f"of the {n_classes} classes on both sides. Change the fraction, or give the split "
            "as its own file."
        )
    parts = ds.train_test_split(test_size=n_carved, seed=seed, stratify_by_column="label")
    return parts["train"], parts["test"]


def cap(ds: Dataset, size: int | None, seed: int, *, key: str) -> Dataset:
    """A stratified subset of ``size`` examples (all of ``ds`` when ``size`` is None or more)."""
    if size is None or size >= len(ds):
        return ds
    n_classes = len(names_of(ds))
    if size < n_classes:
        raise DataError(
            f"data.{key}: {size} examples cannot hold one of each of the {n_classes} classes; "
            f"set it to at least {n_classes}, or null."
        )
    rare = [n for n in class_counts(ds) if n < 2]
    if rare:  # stratifying needs two of each class; a seeded sample is what is left
        return ds.shuffle(seed=seed).select(range(size))
    return ds.train_test_split(train_size=size, seed=seed, stratify_by_column="label")["train"]


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
