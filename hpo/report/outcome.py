"""The outcome of a run in the report: which model was shipped and why (its validation
figures), planned against actual minutes per stage, and the finding when the tuned model does
not beat the classical baseline on test: never a silent loss, and never a choice made on test."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hpo.config.budget import format_minutes
from hpo.config.schema import METRICS
from hpo.final.card import choice_lines, shipped_title
from hpo.final.choice import CANDIDATES, TITLES, Choice
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


def no_search_reason(plan: Mapping[str, Any] | None) -> str:
    """Why a run had no search: the plan's reason, else the key that said so."""
    return ((plan or {}).get("search") or {}).get("why") or "study.n_trials 0"


def verdict_lines(
    results: Results,
    labels: Sequence[Any],
    *,
    max_length: int,
    plan: Mapping[str, Any] | None,
    n_trials: int,
    choice: Choice | None = None,
) -> list[str]:
    """Lines saying plainly that the tuned model did not beat TF-IDF significantly on test,
    with the causes the run can name: a finding, not advice (the shipped model was chosen on
    validation); nothing when it did (or when either is missing)."""
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
            "may close the gap."
        )
    if choice is None:
        lines.append(
            "- This run handed over the tuned transformer as it is (`study.ship: tuned`); "
            "`study.ship: best` hands over whichever of the two, or their blend, scores "
            "highest on validation."
        )
    return [*lines, ""]


def shipped_lines(choice: Choice | None, labels: Sequence[Any]) -> list[str]:
    """``## Shipped model``: what ``final/model`` serves and the validation figures that chose
    it, each candidate's test figures, and, as a finding, a candidate that beat it on test."""
    if choice is None:
        return []
    title = METRICS.get(choice.metric, choice.metric)
    val = choice.validation
    shipped = shipped_title(choice)
    if choice.shipped == "tuned":
        head = (
            f"**Shipped: the tuned transformer.** On validation it scored {val['tuned']:.4f} "
            f"{title}, TF-IDF {val['classical']:.4f} and their blend {val['blend']:.4f}."
        )
    else:
        head = (
            f"**Shipped: the {shipped}, not the tuned transformer.** On validation it scored "
            f"{val[choice.shipped]:.4f} {title} against the tuned transformer's "
            f"{val['tuned']:.4f}. `hpo predict`, `hpo.load_predictor` and `hpo predict --fast` "
            "serve it from `final/model`; `transformers.pipeline` loads the transformer alone."
        )
    lines = ["## Shipped model", "", head, "", *choice_lines(choice, labels)]
    chosen = choice.shipped_scores
    for name in CANDIDATES:
        other = choice.test.get(name)
        if name == choice.shipped or chosen is None or other is None:
            continue
        test = Verdict.paired(chosen.predictions, other.predictions, labels)
        if test is not None and test.significant and other.accuracy > chosen.accuracy:
            lines += [
                f"Finding: on test the {TITLES[name]} scores higher than the shipped model "
                f"({100 * other.accuracy:.2f}% against {100 * chosen.accuracy:.2f}%, McNemar "
                f"p = {test.p_value:.2g}). The choice was made on validation and stands: the "
                "test split reports, it does not choose.",
                "",
            ]
    return lines


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
    if n_trials == 0:
        causes.append(f"there was no search ({no_search_reason(plan)})")
    elif n_trials < 6:
        causes.append(f"the search had {n_trials} trial(s): too few to find a good setup")
    return causes
