"""Many classes stay readable: pairs most confused, per-class scores worst first."""

from __future__ import annotations

from hpo.report.classes import confusion_lines, most_confused, per_class_table


def test_few_classes_get_the_whole_matrix() -> None:
    lines = confusion_lines([[5, 1], [2, 7]], ["neg", "pos"])
    assert "| true \\ predicted | neg | pos |" in lines
    assert "| pos | 2 | 7 |" in lines


def test_many_classes_get_the_pairs_most_confused() -> None:
    n = 30
    names = [f"class{i}" for i in range(n)]
    matrix = [[10 if i == j else 0 for j in range(n)] for i in range(n)]
    matrix[3][7] = 6
    matrix[8][2] = 4
    matrix[8][1] = 4
    pairs = most_confused(matrix, names)
    assert pairs[0] == ("class3", "class7", 6, 6 / 16)
    assert [p[:2] for p in pairs[1:]] == [("class8", "class1"), ("class8", "class2")]
    lines = confusion_lines(matrix, names)
    assert lines[0].startswith("30 classes: the 3 pairs most often confused (14 of the 14 wrong")
    assert all(len(line) < 200 for line in lines)


def test_per_class_worst_first() -> None:
    per_class = {
        "a": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 3},
        "b": {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 3},
    }
    lines = per_class_table(per_class)
    assert lines.index(next(x for x in lines if x.startswith("| b |"))) < lines.index(
        next(x for x in lines if x.startswith("| a |"))
    )
