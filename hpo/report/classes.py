"""Per-class figures of the tuned model that stay readable with many classes.

Up to :data:`hpo.data.labels.MANY_CLASSES` classes the report shows the whole confusion matrix
as a table; past that, the most-confused pairs of classes instead (a 77-class matrix is a table
of 77 columns nobody reads). Per-class scores are sorted worst first, so the classes that need
attention come first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hpo.data.labels import MANY_CLASSES

#: Most-confused pairs listed for a data set with many classes.
TOP_CONFUSIONS = 15


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def per_class_table(per_class: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Precision, recall, F1 and support of each class, worst F1 first."""
    rows = sorted(per_class.items(), key=lambda item: (item[1]["f1"], item[0]))
    lines = [
        "Per class, worst F1 first:",
        "",
        "| class | precision | recall | F1 | test examples |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {name} | {_pct(c['precision'])} | {_pct(c['recall'])} | {_pct(c['f1'])} | "
        f"{c['support']} |"
        for name, c in rows
    ]
    return [*lines, ""]


def most_confused(
    matrix: Sequence[Sequence[int]], names: Sequence[str], *, top: int = TOP_CONFUSIONS
) -> list[tuple[str, str, int, float]]:
    """(true class, predicted class, count, share of the true class) of the largest
    off-diagonal cells, largest first."""
    cells = []
    for i, row in enumerate(matrix):
        total = sum(row) or 1
        for j, count in enumerate(row):
            if i != j and count:
                cells.append((names[i], names[j], int(count), count / total))
    cells.sort(key=lambda cell: (-cell[2], -cell[3], cell[0], cell[1]))
    return cells[:top]


def confusion_lines(matrix: Sequence[Sequence[int]], names: Sequence[str]) -> list[str]:
    """The confusion matrix as a table, or past :data:`MANY_CLASSES` classes the pairs most
    often confused."""
    if len(names) <= MANY_CLASSES:
        lines = [
            "Confusion matrix (rows: true class, columns: predicted):",
            "",
            "| true \\ predicted | " + " | ".join(names) + " |",
            "| --- | " + " | ".join("---" for _ in names) + " |",
        ]
        lines += [
            f"| {n} | " + " | ".join(map(str, row)) + " |"
            for n, row in zip(names, matrix, strict=True)
        ]
        return lines
    pairs = most_confused(matrix, names)
    wrong = sum(sum(row) - row[i] for i, row in enumerate(matrix))
    lines = [
        f"{len(names)} classes: the {len(pairs)} pairs most often confused "
        f"({sum(p[2] for p in pairs)} of the {wrong} wrong test predictions; the picture "
        "below has them all):",
        "",
        "| true class | predicted as | test examples | share of the true class |",
        "| --- | --- | --- | --- |",
    ]
    lines += [f"| {t} | {p} | {n} | {_pct(share)} |" for t, p, n, share in pairs]
    return lines
