"""The outcome of a budgeted run in the report: planned against actual minutes per stage, and
the verdict when the tuned model does not beat the classical baseline: never a silent loss."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hpo.config.budget import format_minutes
from hpo.final.metrics import FinalMetrics, Results
from hpo.final.scoring import Verdict
from hpo.plan.table import planned_against_actual

#: Below this many training examples per class on average, a fine-tuned model is short of data.
FEW_PER_CLASS = 50


def budget_lines(plan: Mapping[str, Any]) -> list[str]:
    """``## Budget``: each stage's planned and actual minutes, what was decided, and what the
    run did to keep the deadline."""
    rows = planned_against_actual(plan)
    planned = sum(p for _, p, _ in rows)
    actual = plan.get("elapsed_seconds")
    lines = [
        "## Budget",
        "",
        f"Budget {format_minutes(plan['budget_seconds'])}: planned "
        f"{format_minutes(planned)}; "
        + (f"{format_minutes(actual)} had passed" if actual is not None else "?")
        + " when this report was written (`runs/<study>/plan.json` has the job's end).",
        "",
        "| stage | what | planned | actual |",
        "| --- | --- | --- | --- |",
    ]
    whats = {s["name"]: s["what"] for s in plan["stages"]}
    for name, planned_s, actual_s in rows:
        took = format_minutes(actual_s) if actual_s is not None else "not run"
        if actual_s is None and name == "report":
            took = "this report (in plan.json)"
        lines.append(f"| {name} | {whats[name]} | {format_minutes(planned_s)} | {took} |")
    lines += ["", "| key | value | set by | why |", "| --- | --- | --- | --- |"]
    for choice in plan["choices"]:
        value = str(choice["value"]).replace("|", "/")
        lines.append(f"| `{choice['key']}` | `{value}` | {choice['by']} | {choice['why']} |")
    events = plan.get("events") or []
    notes = plan.get("notes") or []
    if events or notes:
        lines.append("")
    lines += [f"- {text}" for text in [*notes, *events]]
    return [*lines, ""]


def verdict_lines(
    results: Results,
    labels: Sequence[Any],
    *,
    max_length: int,
    plan: Mapping[str, Any] | None,
    n_trials: int,
) -> list[str]:
    """Lines saying plainly that the tuned model did not beat TF-IDF significantly, with the
    causes the run can name; nothing when it did (or when either is missing)."""
    tuned, classical = results.tuned, results.classical
    if tuned is None or classical is None or not len(labels):
        return []
    test = Verdict.paired(tuned.predictions, classical.predictions, labels)
    if test is None or (tuned.accuracy > classical.accuracy and test.significant):
        return []
    how = "scores below" if tuned.accuracy < classical.accuracy else "does not beat"
    causes = _causes(tuned, max_length=max_length, plan=plan, n_trials=n_trials)
    lines = [
        f"**The tuned model {how} the TF-IDF baseline here** ({100 * tuned.accuracy:.2f}% "
        f"against {100 * classical.accuracy:.2f}%, McNemar p = {test.p_value:.3g}). "
        + ("What this run can name:" if causes else "This run cannot name a cause."),
        "",
    ]
    lines += [f"- {cause}" for cause in causes]
    if not causes:
        lines.append(
            "- More context, more epochs, a larger search (a larger budget) or a larger model "
            "may close the gap; the classical baseline is the model to use until one does."
        )
    return [*lines, ""]


def _causes(
    tuned: FinalMetrics, *, max_length: int, plan: Mapping[str, Any] | None, n_trials: int
) -> list[str]:
    causes = []
    per_class = tuned.per_class or {}
    n_classes = len(per_class) or 2
    per = tuned.train_size / n_classes
    if per < FEW_PER_CLASS:
        causes.append(
            f"too little data for the classes: {tuned.train_size} training examples for "
            f"{n_classes} classes, {per:.0f} per class on average"
        )
    profile = (plan or {}).get("profile") or {}
    lengths = (profile.get("length_percentiles") or {}).get("train") or {}
    if lengths.get("p50", 0) > max_length:
        causes.append(
            f"the model reads {max_length} tokens of each text, and more than half the training "
            f"texts are longer (median {lengths['p50']} tokens); TF-IDF reads every word"
            + (": the budget allowed no more" if plan else "")
        )
    if plan and tuned.epochs_trained <= 1 and n_classes > 2:
        causes.append(
            f"the budget allowed {tuned.epochs_trained} epoch(s) of fine-tuning for "
            f"{n_classes} classes"
        )
    if n_trials < 6:
        causes.append(f"the search had {n_trials} trial(s): too few to find a good setup")
    return causes
