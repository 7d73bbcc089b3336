"""The final report says what the figures show: paired tests, overlap, no zero seconds."""

from __future__ import annotations

import dataclasses

import numpy as np

from hpo.final.metrics import Scores
from hpo.report.markdown import (
    _overlap_section,
    _seconds,
    paired_comparison,
)


def _result(predictions: list[int], labels: list[int]) -> Scores:
    acc = float(np.mean(np.asarray(predictions) == np.asarray(labels)))
    return Scores.from_dict(
        {
            "accuracy": acc,
            "n": len(labels),
            "ci95": [acc - 0.02, min(1.0, acc + 0.02)],
            "predictions": predictions,
        }
    )


def test_paired_comparison_says_whether_a_difference_is_significant() -> None:
    labels = [1] * 1000
    strong = _result([1] * 900 + [0] * 100, labels)
    weak = _result([1] * 800 + [0] * 200, labels)
    # 1 point lower, but right where the strong one is wrong often enough to be chance.
    near = _result([1] * 845 + [0] * 55 + [1] * 45 + [0] * 55, labels)
    text = paired_comparison("the tuned model", strong, "the classical baseline", weak, labels)
    assert text.startswith("The tuned model scores 10.00 points higher than the classical")
    assert "significant at the 5% level" in text and "not significant" not in text
    text = paired_comparison("the tuned model", strong, "the reference setup", near, labels)
    assert "not significant at the 5% level; the difference could be chance" in text
    no_preds = dataclasses.replace(weak, predictions=None)
    text = paired_comparison("the tuned model", strong, "the reference setup", no_preds, labels)
    assert "no paired test" in text


def test_overlap_section_reports_what_the_data_shows() -> None:
    none = "\n".join(_overlap_section([], dropped=False))
    assert "No text appears in both" in none and "<details>" not in none
    some = "\n".join(_overlap_section([("a", True), ("b", False), ("c", True)], dropped=False))
    assert "3 distinct texts appear in both" in some and "2 of them with the same label" in some
    assert "IMDb" not in some and "(done for this run)" not in some
    done = "\n".join(_overlap_section([("a", True)], dropped=True))
    assert "(done for this run)" in done


def test_seconds_never_says_zero() -> None:
    assert _seconds(0.04) == "under 0.1 s" and _seconds(3.14) == "3.1 s"
