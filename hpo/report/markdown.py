"""The final report: ``runs/<study>/report.md``, from the study and the final stage's results."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import TrialState

from hpo.config.reference import DEFAULT_SOURCE
from hpo.config.schema import METRICS
from hpo.data.splits import final_splits, labels_agree, train_test_overlap
from hpo.final.card import write_card
from hpo.final.choice import Choice
from hpo.final.metrics import FinalMetrics, Results, Scores
from hpo.final.scoring import Verdict
from hpo.final.ship import CHOICE_FILE
from hpo.report.classes import confusion_lines, per_class_table
from hpo.report.outcome import budget_lines, no_search_reason, shipped_lines, verdict_lines
from hpo.report.plots import confusion_figure, plot_study, pyplot, score_figure
from hpo.report.trials_table import trials_table
from hpo.runs import RunLayout, model_dir
from hpo.search.storage import load_existing_study
from hpo.search.trials import short_params

if TYPE_CHECKING:
    from hpo.config.schema import DataSection, HpoConfig, StudySection


def make_report(config: HpoConfig) -> Path:
    """Rebuild ``report.md`` and its plots from the results files that exist, and the tuned
    model's card (:mod:`hpo.final.card`) with the baselines in it.

    Writes nothing else: not the study, not the dashboard's artifacts.
    """
    # No search (study.n_trials 0): no study to read; the report says why there was none.
    study = (
        load_existing_study(config.study.name, config.storage_url, config.source)
        if config.study.n_trials > 0
        else None
    )
    layout = RunLayout(config.output_dir)
    results = Results.read(
        layout.final / "metrics.json", layout.reference / "metrics.json", layout.baselines
    )
    # The overlap is measured on the data as published, before any dropping.
    made = final_splits(dataclasses.replace(config.data, drop_test_overlap=False))
    train, test = made.splits["train"], made.splits["test"]
    texts = train_test_overlap(train, test)
    overlap = list(zip(texts, labels_agree(train, test, texts), strict=True))
    plan = json.loads(layout.plan.read_text()) if layout.plan.exists() else None
    choice = Choice.read(layout.final / CHOICE_FILE)
    report = write_report(
        study,
        results,
        overlap,
        layout.root,
        settings=config.study,
        data=config.data,
        model_name=config.model.name,
        test_labels=test["label"],
        test_carved=made.test_carved,
        plan=plan,
        choice=choice,
    )
    tuned_model = model_dir(layout.final)
    if results.tuned is not None and (tuned_model / "config.json").is_file():
        # The card again, now with the baselines on the same test examples.
        write_card(
            tuned_model,
            results.tuned,
            data=config.data,
            study=config.study,
            model_name=config.model.name,
            baselines={"classical": results.classical},
            test_labels=test["label"],
            finished_trials=_finished(study),
            choice=choice,
        )
    return report


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _value(x: float, metric: str) -> str:
    # A Matthews correlation runs from -1 to 1 and is no share of anything: no percent sign.
    return f"{x:.3f}" if metric == "mcc" else _pct(x)


def _seconds(x: float) -> str:
    return f"{x:.1f} s" if x >= 0.1 else "under 0.1 s"


#: Below this many complete trials, parameter importances are shown with a caveat.
IMPORTANCE_MIN_TRIALS = 10
_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


Row = tuple[str, Scores | None, str]


def result_rows(results: Results, choice: Choice | None = None) -> list[Row]:
    """(name, scores or None, note) per model, in the order of the bar charts; with a
    ``choice``, the blend too and the shipped model marked."""
    shipped = choice.shipped if choice else None

    def mark(name: str, candidate: str) -> str:
        return f"{name} (shipped)" if candidate == shipped else name

    rows: list[Row] = []
    if results.classical:
        name = mark("classical: TF-IDF + logistic regression", "classical")
        rows.append((name, results.classical, ""))
    zero = results.zero_shot
    if zero:
        rows.append(("pretrained, no fine-tuning", zero.scores, zero.note))
    reference = results.reference
    if reference:
        params = reference.trained_params or reference.params
        rows.append(
            (
                f"reference setup ({_params_text(params)})",
                reference,
                f"stopped at epoch {reference.stop_epoch}",
            )
        )
    tuned = results.tuned
    if tuned:
        note = f"{tuned.source}, stopped at epoch {tuned.stop_epoch}"
        if tuned.best_epoch is not None:
            note = f"{tuned.source}, {tuned.stop_epoch:g} epochs, epoch {tuned.best_epoch:g} kept"
        if tuned.seeds > 1:
            note += (
                f"; {tuned.seeds} seeds: accuracy {_pct(tuned.test_accuracy_mean)} ± "
                f"{_pct(tuned.test_accuracy_std)}"
            )
        trained_on = "train without validation" if tuned.validation_held else "all of train"
        what = "best trial"
        if tuned.source == DEFAULT_SOURCE:
            what = "strong default, no search"
        elif tuned.kept_default():
            what = "strong default, the search's best within noise of it"
        rows.append((mark(f"tuned ({what}, retrained on {trained_on})", "tuned"), tuned, note))
    blend = choice.test.get("blend") if choice else None
    if choice and blend:
        name = f"blend ({choice.blend_weight:.2f} tuned, {1 - choice.blend_weight:.2f} TF-IDF)"
        rows.append((mark(name, "blend"), blend, "weight chosen on validation"))
    return rows


def figure_rows(rows: list[Row], key: str = "accuracy") -> list[tuple[str, float, Any]]:
    """(name, value, CI) of the rows with scores: ``key`` "accuracy" or "metric_value"."""
    figures = [(name, r.figure(key)) for name, r, _ in rows if r is not None]
    return [(name, f[0], f[1]) for name, f in figures if f is not None]


_SHORT_NAMES = {
    "learning_rate": "lr",
    "per_device_train_batch_size": "batch",
    "num_train_epochs": "epochs",
    "weight_decay": "wd",
    "warmup_steps": "warmup",
}


def _params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{_SHORT_NAMES.get(k, k)} {v}" for k, v in short_params(params).items())


def paired_comparison(name_a: str, a: Scores, name_b: str, b: Scores, labels: Any) -> str:
    """One sentence: which of two models scored on the same test examples is higher, and
    whether McNemar's exact test says the difference is more than chance."""
    diff = a.accuracy - b.accuracy
    if diff == 0:
        head = f"{name_a} and {name_b} have the same test accuracy ({_pct(a.accuracy)})."
    else:
        hi, lo = (name_a, name_b) if diff > 0 else (name_b, name_a)
        hi_acc, lo_acc = max(a.accuracy, b.accuracy), min(a.accuracy, b.accuracy)
        head = (
            f"{hi[0].upper() + hi[1:]} scores {abs(100 * diff):.2f} points higher than {lo} "
            f"({_pct(hi_acc)} vs {_pct(lo_acc)})."
        )
    test = Verdict.paired(a.predictions, b.predictions, labels)
    if test is None:
        return head + " No per-example predictions were recorded, so no paired test."
    counts = (
        f"McNemar's exact test on the {test.n} paired test examples: {test.a_only} right "
        f"only by {name_a}, {test.b_only} only by {name_b}, p = {test.p_value:.3g}"
    )
    return f"{head} {counts}: {test.reading()}"


def _finished(study: optuna.Study | None) -> int:
    return len(study.get_trials(deepcopy=False, states=_FINISHED)) if study is not None else 0


def write_report(
    study: optuna.Study | None,
    results: Results,
    overlap: list[tuple[str, bool]],
    out_dir: Path,
    *,
    settings: StudySection,
    data: DataSection,
    model_name: str,
    test_labels: Any = None,
    test_carved: bool = False,
    plan: dict[str, Any] | None = None,
    choice: Choice | None = None,
) -> Path:
    """``report.md`` plus PNG plots in ``out_dir``; returns the report's path.

    ``settings``, ``data``, ``model_name``: the study's, the data's and the backbone's config.
    ``overlap``: the texts in both the train and the test split, each with whether its labels
    agree in both; ``test_labels``: the test split's labels, for the paired tests;
    ``test_carved``: the data had no test split, so it was carved from train; ``plan``: a
    budgeted run's ``plan.json`` (planned against actual minutes); ``choice``: which model was
    shipped, chosen on validation (:mod:`hpo.final.ship`).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    metric = settings.metric
    title = METRICS[metric]
    rows = result_rows(results, choice)
    pictures = [("accuracy", "accuracy", "test_accuracy.png")]
    if metric != "accuracy":
        pictures.append(("metric_value", title, f"test_{metric}.png"))
    plt = pyplot()
    for key, name, file in pictures:
        fig = score_figure(
            figure_rows(rows, key), name, percent=key == "accuracy" or metric != "mcc"
        )
        fig.savefig(out_dir / file, dpi=120)
        plt.close(fig)
    plots = plot_study(study, out_dir, title) if study is not None else {}
    tuned = results.tuned
    n_test = results.test_size()
    where = (
        f"carved from the training data (data.test_fraction {data.test_fraction}, "
        f"seed {data.split_seed}, stratified) before the search, since the data has "
        "no test split"
        if test_carved
        else "the data's own"
    )
    lines = [
        f"# {settings.name}: final report",
        "",
        f"Model `{model_name}`, data `{data.path or data.dataset}`, "
        f"max_length {data.max_length}. Search objective: validation {title}. Test "
        f"split: {n_test if n_test is not None else '?'} examples, {where}; scored once per "
        "model.",
        "",
    ]
    labels = list(test_labels) if test_labels is not None else []
    lines += shipped_lines(choice, labels)
    lines += [
        *[f"![test {name}]({file})" for _, name, file in pictures],
        "",
    ]
    lines += _score_table(rows, metric)
    others: list[tuple[str, Scores | None]] = [
        ("the classical baseline", results.classical),
        ("the reference setup", results.reference),
    ]
    if results.zero_shot and results.zero_shot.scores:
        others.append(("the pretrained model without fine-tuning", results.zero_shot.scores))
    for name, other in others:
        if tuned and other:
            lines += [paired_comparison("the tuned model", tuned, name, other, labels), ""]
    lines += verdict_lines(
        results,
        labels,
        max_length=data.max_length,
        plan=plan,
        n_trials=_finished(study),
        choice=choice,
    )
    if tuned:
        lines += _tuned_section(tuned, out_dir)
    if plan:
        lines += ["", *budget_lines(plan)]
    lines += ["", "## Search", ""]
    if study is None:
        lines += [f"None: {no_search_reason(plan)}.", ""]
    else:
        lines += _search_section(study, plots, title)
    lines += _overlap_section(overlap, dropped=data.drop_test_overlap)
    path = out_dir / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _search_section(study: optuna.Study, plots: dict[str, str], title: str) -> list[str]:
    lines: list[str] = []
    n_complete = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    for name, made in plots.items():
        caption = name.replace("_", " ")
        lines.append(f"![{caption}]({made})" if made.endswith(".png") else f"{caption}: {made}")
        if name == "param_importances" and made.endswith(".png"):
            caveat = (
                f" With fewer than {IMPORTANCE_MIN_TRIALS} they are a hint, not a ranking: "
                "another run may order them differently."
                if n_complete < IMPORTANCE_MIN_TRIALS
                else ""
            )
            lines += ["", f"Importances are computed from {n_complete} complete trials.{caveat}"]
        lines.append("")
    lines += ["```", trials_table(study, title), "```", ""]
    return lines


def _score_table(rows: list[Row], metric: str) -> list[str]:
    """Markdown table of every model's test accuracy (and the study's metric), with CIs."""
    extra = metric != "accuracy"
    head = "| model | test accuracy | 95% CI |"
    if extra:
        head += f" test {METRICS[metric]} | 95% CI |"
    lines = [head + " notes |", "|" + " --- |" * (head.count("|"))]
    for name, result, note in rows:
        cells = [_score_cells(result, "accuracy", "accuracy")]
        if extra:
            cells.append(_score_cells(result, "metric_value", metric))
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {note} |")
    return [*lines, ""]


def _score_cells(result: Scores | None, key: str, metric: str) -> str:
    figure = result.figure(key) if result is not None else None
    if figure is None:
        return "n/a | "
    value, ci = figure
    interval = f"{_value(ci[0], metric)} – {_value(ci[1], metric)}" if ci else ""
    return f"{_value(value, metric)} | {interval}"


def _tuned_section(tuned: FinalMetrics, out_dir: Path) -> list[str]:
    """Params and timing of the tuned model, its per-class scores and confusion matrix."""
    matrix = tuned.confusion_matrix or {"rows_true_cols_pred": [], "labels": []}
    cm, names = matrix["rows_true_cols_pred"], matrix["labels"]
    plt = pyplot()
    fig = confusion_figure(cm, names)
    fig.savefig(out_dir / "confusion_matrix.png", dpi=110)
    plt.close(fig)
    lines = [
        "## Tuned model",
        "",
        f"Params: `{tuned.trained_params or tuned.params}`; trained "
        f"{tuned.epochs_trained} epochs on {tuned.train_size} examples in "
        f"{_seconds(tuned.train_seconds)} ({tuned.train_samples_per_second} "
        f"samples/s); test scored in {_seconds(tuned.test_seconds)}.",
        "",
    ]
    per_class = tuned.per_class
    if per_class:
        lines += per_class_table(per_class)
    lines += confusion_lines(cm, names)
    return [*lines, "", "![confusion matrix](confusion_matrix.png)"]


def _overlap_section(overlap: list[tuple[str, bool]], *, dropped: bool) -> list[str]:
    lines = ["## Examples in both train and test", ""]
    if not overlap:
        return [*lines, "No text appears in both the training and the test split.", ""]
    same = sum(agree for _, agree in overlap)
    done = " (done for this run)." if dropped else "."
    lines += [
        f"{len(overlap)} distinct texts appear in both the training and the test split, "
        f"{same} of them with the same label in both. A model that saw them in training is "
        "scored on them again. Set `data.drop_test_overlap: true` to drop them from train" + done,
        "",
        "<details><summary>The overlapping texts (first 300 characters each)</summary>",
        "",
    ]
    for i, (text, _) in enumerate(overlap, 1):
        short = text if len(text) <= 300 else text[:297] + "..."
        lines.append(f"{i}. {short.replace('|', '/')}")
    return [*lines, "", "</details>", ""]
