"""The report's budget section and its verdict when tuning did not beat TF-IDF."""

from __future__ import annotations

from hpo.final.metrics import Results
from hpo.report.outcome import budget_lines, verdict_lines

LABELS = [0, 1] * 50


def _result(right: int, **extra) -> dict:
    predictions = [label if i < right else 1 - label for i, label in enumerate(LABELS)]
    accuracy = right / len(LABELS)
    return {
        "accuracy": accuracy,
        "n": len(LABELS),
        "ci95": [accuracy, accuracy],
        "predictions": predictions,
        **extra,
    }


def _results(tuned: dict, classical: dict) -> Results:
    return Results.from_dicts(tuned=tuned, baselines={"classical": classical})


def test_a_loss_is_said_plainly_with_its_causes() -> None:
    tuned = _result(60, train_size=300, per_class={str(i): {} for i in range(10)})
    plan = {"profile": {"length_percentiles": {"train": {"p50": 400}}}}
    lines = verdict_lines(
        _results(tuned, _result(95)), LABELS, max_length=128, plan=plan, n_trials=3
    )
    text = "\n".join(lines)
    assert text.startswith("**The tuned model scores below the TF-IDF baseline here** (60.00%")
    assert "too little data for the classes: 300 training examples for 10 classes" in text
    assert "reads 128 tokens" in text and "median 400 tokens" in text
    assert "3 trial(s)" in text


def test_a_tie_is_no_win() -> None:
    lines = verdict_lines(
        _results(_result(90, train_size=10_000), _result(89)),
        LABELS,
        max_length=512,
        plan=None,
        n_trials=10,
    )
    assert lines[0].startswith("**The tuned model does not beat")
    assert "cannot name a cause" in lines[0]


def test_a_significant_win_says_nothing() -> None:
    lines = verdict_lines(
        _results(_result(100, train_size=10_000), _result(70)),
        LABELS,
        max_length=512,
        plan=None,
        n_trials=10,
    )
    assert lines == []


def test_budget_lines() -> None:
    plan = {
        "budget_seconds": 600,
        "elapsed_seconds": 590,
        "stages": [{"name": "search", "what": "4 trials", "seconds": 300}],
        "actual_seconds": {"search": 280},
        "choices": [{"key": "data.max_length", "value": 128, "by": "planner", "why": "fits"}],
        "events": ["final stage re-planned"],
    }
    text = "\n".join(budget_lines(plan))
    assert "Budget 10.0 min: planned 5.0 min; 9.8 min had passed when this report" in text
    assert "| search | 4 trials | 5.0 min | 4.7 min |" in text
    assert "| `data.max_length` | `128` | planner | fits |" in text
    assert "- final stage re-planned" in text
