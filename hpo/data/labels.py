"""Label sets: which classes a data set has, what they are called, and their ids.

The training split decides the classes: integer labels in numeric order, string labels sorted.
Integer labels take their names from ``data.label_names`` (or a ``ClassLabel`` feature); string
labels are their own names. Every split is then encoded to ids ``0..N-1`` as a ``ClassLabel``
column, so the names travel with the tokenized data into the model's ``id2label``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hpo.errors import DataError

if TYPE_CHECKING:
    from datasets import Dataset


@dataclass(frozen=True)
class LabelSet:
    """The classes of a data set: raw values in id order and their names."""

    values: tuple[int | str, ...]
    names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.names)

    def ids(self) -> dict[int | str, int]:
        """Raw value -> id."""
        return {value: i for i, value in enumerate(self.values)}


def _plain(value: Any, names: Sequence[str] | None) -> int | str | None:
    """A raw label as an int or a stripped str; None for a missing one.

    Whole floats (a CSV column with a gap reads as floats) are ints; bools are 0/1. Where
    ``names`` is given, ints become their names, so a column that mixes 1 and "pos" maps.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, float):
        if value != value:  # NaN: pandas' missing value
            return None
        if not value.is_integer():
            raise ValueError(f"{value!r} is not a class id")
        value = int(value)
    if isinstance(value, int):
        return names[value] if names is not None and 0 <= value < len(names) else value
    if isinstance(value, str):
        return value.strip() or None
    raise ValueError(f"{value!r} is neither a class id nor a name")


def infer_labels(ds: Dataset, *, label_names: Sequence[str] | None, where: str) -> LabelSet:
    """The label set of a training split (column ``label``, raw values)."""
    from datasets import ClassLabel

    feature = ds.features["label"]
    if isinstance(feature, ClassLabel) and label_names is None:
        label_names = feature.names
    plain = _plain_column(ds["label"], None, where)
    kinds = {type(v) for v in plain}
    if kinds == {int, str}:
        if label_names is None:
            ints = sorted({v for v in plain if isinstance(v, int)})[:3]
            strs = sorted({v for v in plain if isinstance(v, str)})[:3]
            raise DataError(
                f"{where}: the label column mixes numbers {ints} and names {strs}. Make it one "
                "type, or set data.label_names to name the numbers (0 is the first name)."
            )
        strangers = sorted({v for v in plain if isinstance(v, str)} - set(label_names))
        if strangers:
            raise DataError(
                f"{where}: the label column mixes numbers and names, and {strangers[:3]} are "
                f"not among data.label_names {list(label_names)}, which name the numbers. "
                "Make the column one type, or fix data.label_names."
            )
        plain = _plain_column(ds["label"], label_names, where)
        kinds = {type(v) for v in plain}
        if kinds != {str}:
            ints = sorted({v for v in plain if isinstance(v, int)})
            raise DataError(
                f"{where}: labels {ints[:5]} have no name in data.label_names "
                f"({len(label_names)} names, for 0-{len(label_names) - 1}). Add their names."
            )
    counts = Counter(plain)
    if kinds == {str}:
        values: list[Any] = sorted(counts)
        names = list(values)
    else:
        values = sorted(counts)
        if label_names is None:
            names = [str(v) for v in values]
        else:
            outside = [v for v in values if not 0 <= v < len(label_names)]
            if outside:
                raise DataError(
                    f"{where}: label {outside[0]} has no name in data.label_names "
                    f"{list(label_names)} (names are by value, 0 first). Give a name per "
                    "class, or set data.label_names: null."
                )
            names = [label_names[v] for v in values]
    if len(values) < 2:
        raise DataError(
            f"{where}: every example has the label {names[0]!r}; a classifier needs at least "
            "two classes. Add examples of the other classes."
        )
    return LabelSet(tuple(values), tuple(names))


def encode(
    ds: Dataset, labels: LabelSet, *, label_names: Sequence[str] | None, where: str
) -> Dataset:
    """``ds`` with its ``label`` column as ids of ``labels`` (a ``ClassLabel``).

    A label that the training split does not have is an error that names it and its count.
    """
    from datasets import ClassLabel

    feature = ds.features["label"]
    if isinstance(feature, ClassLabel) and label_names is None:
        label_names = feature.names
    use_names = label_names if all(isinstance(v, str) for v in labels.values) else None
    plain = _plain_column(ds["label"], use_names, where)
    ids = labels.ids()
    unknown = Counter(v for v in plain if v not in ids)
    if unknown:
        value, count = unknown.most_common(1)[0]
        first = next(i for i, v in enumerate(plain) if v == value)
        raise DataError(
            f"{where}: label {value!r} ({count} examples, first at row {first}) is not among "
            f"the training split's labels {list(labels.names)}. Remove those rows, or add "
            "examples of that class to train."
        )
    # The column is already read and checked: its ids replace it as they are.
    encoded = [ids[v] for v in plain]
    feature = ClassLabel(names=list(labels.names))
    return ds.remove_columns("label").add_column("label", encoded, feature=feature)


def _plain_column(values: Sequence[Any], names: Sequence[str] | None, where: str) -> list[Any]:
    out = []
    for row, value in enumerate(values):
        try:
            plain = _plain(value, names)
        except ValueError as exc:
            raise DataError(
                f"{where}: row {row}: label {exc}. Labels must be class ids (0, 1, ...) or "
                "names (strings)."
            ) from None
        if plain is None:
            raise DataError(f"{where}: row {row} has no label. Remove the rows without one.")
        out.append(plain)
    return out


#: Past this many classes, logs and reports count the classes rather than list them, and the
#: report's confusion matrix becomes its most-confused pairs.
MANY_CLASSES = 12


def class_summary(names: Sequence[str]) -> str:
    """The class names, or past :data:`MANY_CLASSES` their count with the first few."""
    if len(names) <= MANY_CLASSES:
        return ", ".join(map(str, names))
    return f"{len(names)} classes: {', '.join(map(str, names[:3]))}, ..."


def class_counts(ds: Dataset) -> list[int]:
    """Examples per class id of an encoded split."""
    counts = [0] * len(ds.features["label"].names)
    for label in ds["label"]:
        counts[label] += 1
    return counts


def names_of(ds: Dataset) -> list[str]:
    """The class names of an encoded split, by id."""
    return list(ds.features["label"].names)
