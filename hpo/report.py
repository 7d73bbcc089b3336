"""Tables (and later plots) of a study, for people."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from hpo.metrics import mcnemar
from hpo.trials import short_params


def trials_table(study: optuna.Study) -> str:
    """One row per trial: number, state, accuracy, duration and params, aligned for a terminal."""
    header = ["#", "state", "accuracy", "seconds", "params"]
    rows = []
    for t in study.get_trials(deepcopy=False):
        seconds = f"{t.duration.total_seconds():.1f}" if t.duration is not None else "-"
        value = f"{t.value:.4f}" if t.value is not None else "-"
        if t.value is None and t.intermediate_values:
            value = f"({max(t.intermediate_values.values()):.4f})"
        params = json.dumps(short_params(t.params))
        rows.append([str(t.number), t.state.name, value, seconds, params])
    if not rows:
        return f"study {study.study_name!r} has no trials yet."
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    lines = []
    for r in [header, *rows]:
        cells = [c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)]
        lines.append("  ".join([*cells, r[-1]]))
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# The final report: runs/<study>/report.md and its PNG plots
# --------------------------------------------------------------------------------------------


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _seconds(x: float) -> str:
    return f"{x:.1f} s" if x >= 0.1 else "under 0.1 s"


#: Below this many complete trials, parameter importances are shown with a caveat.
IMPORTANCE_MIN_TRIALS = 10
#: Significance level of the paired test.
ALPHA = 0.05


def accuracy_rows(results: dict[str, Any]) -> list[tuple[str, float | None, Any, str]]:
    """(name, test accuracy or None, CI, note) per entry, in the order of the bar chart."""
    rows = []
    classical = results.get("classical")
    if classical:
        rows.append(
            (
                "classical: TF-IDF + logistic regression",
                classical["accuracy"],
                classical["ci95"],
                "",
            )
        )
    zero = results.get("zero_shot")
    if zero:
        if zero.get("applicable"):
            rows.append(
                (
                    "pretrained, no fine-tuning",
                    zero["accuracy"],
                    zero["ci95"],
                    f"labels mapped by name: {zero.get('label_map')}",
                )
            )
        else:
            rows.append(
                ("pretrained, no fine-tuning", None, None, f"not applicable: {zero.get('reason')}")
            )
    reference = results.get("reference")
    if reference:
        params = reference.get("trained_params") or reference.get("params") or {}
        rows.append(
            (
                f"reference setup ({_params_text(params)})",
                reference["accuracy"],
                reference["ci95"],
                f"stopped at epoch {reference['stop_epoch']}",
            )
        )
    tuned = results.get("tuned")
    if tuned:
        note = f"{tuned['source']}, stopped at epoch {tuned['stop_epoch']}"
        if tuned.get("seeds", 1) > 1:
            note += (
                f"; {tuned['seeds']} seeds: {_pct(tuned['test_accuracy_mean'])} ± "
                f"{_pct(tuned['test_accuracy_std'])}"
            )
        rows.append(
            (
                "tuned (best trial, retrained on all of train)",
                tuned["accuracy"],
                tuned["ci95"],
                note,
            )
        )
    return rows


_SHORT_NAMES = {
    "learning_rate": "lr",
    "per_device_train_batch_size": "batch",
    "num_train_epochs": "epochs",
    "weight_decay": "wd",
    "warmup_steps": "warmup",
}


def _params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{_SHORT_NAMES.get(k, k)} {v}" for k, v in short_params(params).items())


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def accuracy_figure(rows: list[tuple[str, float | None, Any, str]]) -> Any:
    """Bar chart of test accuracy with 95% bootstrap intervals, on the whole 0-1 axis.

    A bar's length is its accuracy, so the axis starts at 0; each value is written past the
    end of its error bar, where the bar cannot hide it.
    """
    plt = _pyplot()
    shown = [(n, a, ci) for n, a, ci, _ in rows if a is not None]
    fig, ax = plt.subplots(figsize=(8, 0.9 + 0.7 * max(1, len(shown))))
    names = [n.split(" (")[0].split(":")[0] for n, _, _ in shown]
    values = [a for _, a, _ in shown]
    errors = [[a - ci[0] for _, a, ci in shown], [ci[1] - a for _, a, ci in shown]]
    colors = ["#9e9e9e"] * (len(shown) - 1) + ["#1e88e5"]
    ax.barh(names, values, xerr=errors, color=colors, capsize=4)
    for y, (_, value, ci) in enumerate(shown):
        ax.text(ci[1] + 0.01, y, f"{100 * value:.1f}%", va="center", ha="left", fontsize=10)
    ax.set_xlim(0.0, 1.12)
    ax.set_xticks([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_xlabel("test accuracy (95% bootstrap CI)")
    ax.invert_yaxis()
    fig.tight_layout()
    return fig


def history_figure(study: optuna.Study) -> Any:
    """Validation accuracy by trial: complete trials, pruned trials at the best accuracy they
    reached before they were stopped, and the best so far."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    pruned = [
        t
        for t in study.get_trials(deepcopy=False)
        if t.state == TrialState.PRUNED and t.intermediate_values
    ]
    ax.scatter(
        [t.number for t in complete],
        [t.value for t in complete],
        color="#1e88e5",
        label="complete",
        zorder=3,
    )
    ax.scatter(
        [t.number for t in pruned],
        [max(t.intermediate_values.values()) for t in pruned],
        color="#e53935",
        marker="x",
        label="pruned (best accuracy before it was stopped)",
        zorder=3,
    )
    best, xs, ys = float("-inf"), [], []
    for t in sorted(complete, key=lambda t: t.number):
        best = max(best, t.value)
        xs.append(t.number)
        ys.append(best)
    if xs:
        last = max(t.number for t in [*complete, *pruned])
        ax.step([*xs, last], [*ys, ys[-1]], where="post", color="#555555", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel("validation accuracy")
    ax.set_title("Optimization history")
    if complete or pruned:
        # Below the axes, where no point can be hidden behind it.
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, frameon=False)
    fig.tight_layout()
    return fig


def plot_study(study: optuna.Study, out_dir: Path) -> dict[str, str]:
    """Optimization history and parameter importances as PNGs; returns name -> file or reason."""
    import warnings

    from optuna.visualization import matplotlib as ovm

    plt = _pyplot()
    made: dict[str, str] = {}
    fig = history_figure(study)
    fig.savefig(out_dir / "optimization_history.png", dpi=110)
    plt.close(fig)
    made["optimization_history"] = "optimization_history.png"
    path = out_dir / "param_importances.png"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
            ax = ovm.plot_param_importances(study)
        fig = ax.figure if hasattr(ax, "figure") else ax[0].figure
        fig.set_size_inches(8, 4.5)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        made["param_importances"] = path.name
    except (ValueError, RuntimeError) as exc:  # e.g. importances need 2+ complete trials
        made["param_importances"] = f"not drawn: {exc}"
    return made


def paired_comparison(
    name_a: str, a: dict[str, Any], name_b: str, b: dict[str, Any], labels: Any
) -> str:
    """One sentence: which of two models scored on the same test examples is higher, and
    whether McNemar's exact test says the difference is more than chance."""
    diff = a["accuracy"] - b["accuracy"]
    if diff == 0:
        head = f"{name_a} and {name_b} have the same test accuracy ({_pct(a['accuracy'])})."
    else:
        hi, lo = (name_a, name_b) if diff > 0 else (name_b, name_a)
        hi_acc, lo_acc = max(a["accuracy"], b["accuracy"]), min(a["accuracy"], b["accuracy"])
        head = (
            f"{hi[0].upper() + hi[1:]} scores {abs(100 * diff):.2f} points higher than {lo} "
            f"({_pct(hi_acc)} vs {_pct(lo_acc)})."
        )
    if "predictions" not in a or "predictions" not in b or len(a["predictions"]) != len(labels):
        return head + " No per-example predictions were recorded, so no paired test."
    labels = np.asarray(labels)
    test = mcnemar(np.asarray(a["predictions"]) == labels, np.asarray(b["predictions"]) == labels)
    counts = (
        f"McNemar's exact test on the {test['n']} paired test examples: {test['a_only']} right "
        f"only by {name_a}, {test['b_only']} only by {name_b}, p = {test['p_value']:.3g}"
    )
    if test["p_value"] < ALPHA:
        verdict = f": the difference is significant at the {ALPHA:.0%} level."
    else:
        verdict = f": not significant at the {ALPHA:.0%} level; the difference could be chance."
    return f"{head} {counts}{verdict}"


def write_report(
    study: optuna.Study,
    config: Any,
    results: dict[str, Any],
    overlap: list[tuple[str, bool]],
    out_dir: Path,
    *,
    test_labels: Any = None,
) -> Path:
    """``report.md`` plus PNG plots in ``out_dir``; returns the report's path.

    ``overlap``: the texts in both the train and the test split, each with whether its labels
    agree in both; ``test_labels``: the test split's labels, for the paired tests.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    plt = _pyplot()
    rows = accuracy_rows(results)
    fig = accuracy_figure(rows)
    fig.savefig(out_dir / "test_accuracy.png", dpi=120)
    plt.close(fig)
    plots = plot_study(study, out_dir)
    tuned = results.get("tuned")
    n_test = tuned["n"] if tuned else next((r["n"] for r in results.values() if "n" in r), None)
    lines = [
        f"# {config.study.name}: final report",
        "",
        f"Model `{config.model.name}`, data `{config.data.path or config.data.dataset}`, "
        f"max_length {config.data.max_length}. Test split: "
        f"{n_test if n_test is not None else '?'} examples, scored once per model.",
        "",
        "![test accuracy](test_accuracy.png)",
        "",
        "| model | test accuracy | 95% CI | notes |",
        "| --- | --- | --- | --- |",
    ]
    for name, acc, ci, note in rows:
        cell = _pct(acc) if acc is not None else "n/a"
        ci_cell = f"{_pct(ci[0])} – {_pct(ci[1])}" if ci else ""
        lines.append(f"| {name} | {cell} | {ci_cell} | {note} |")
    lines.append("")
    labels = list(test_labels) if test_labels is not None else []
    others = [
        ("the classical baseline", results.get("classical")),
        ("the reference setup", results.get("reference")),
    ]
    zero = results.get("zero_shot")
    if zero and zero.get("applicable"):
        others.append(("the pretrained model without fine-tuning", zero))
    for name, other in others:
        if tuned and other:
            lines += [paired_comparison("the tuned model", tuned, name, other, labels), ""]
    if tuned:
        cm = tuned["confusion_matrix"]["rows_true_cols_pred"]
        names = tuned["confusion_matrix"].get("labels", ["neg", "pos"])
        lines += [
            "## Tuned model",
            "",
            f"Params: `{tuned.get('trained_params') or tuned['params']}`; trained "
            f"{tuned['epochs_trained']} epochs on {tuned['train_size']} examples in "
            f"{_seconds(tuned['train_seconds'])} ({tuned['train_samples_per_second']} "
            f"samples/s); test scored in {_seconds(tuned['test_seconds'])}.",
            "",
            "| true \\ predicted | " + " | ".join(names) + " |",
            "| --- | " + " | ".join("---" for _ in names) + " |",
        ]
        lines += [
            f"| {n} | " + " | ".join(map(str, row)) + " |" for n, row in zip(names, cm, strict=True)
        ]
    lines += ["", "## Search", ""]
    n_complete = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    for name, made in plots.items():
        title = name.replace("_", " ")
        lines.append(f"![{title}]({made})" if made.endswith(".png") else f"{title}: {made}")
        if name == "param_importances" and made.endswith(".png"):
            caveat = (
                f" With fewer than {IMPORTANCE_MIN_TRIALS} they are a hint, not a ranking: "
                "another run may order them differently."
                if n_complete < IMPORTANCE_MIN_TRIALS
                else ""
            )
            lines += ["", f"Importances are computed from {n_complete} complete trials.{caveat}"]
        lines.append("")
    lines += ["```", trials_table(study), "```", ""]
    lines += _overlap_section(overlap, config)
    path = out_dir / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _overlap_section(overlap: list[tuple[str, bool]], config: Any) -> list[str]:
    lines = ["## Examples in both train and test", ""]
    if not overlap:
        return [*lines, "No text appears in both the training and the test split.", ""]
    same = sum(agree for _, agree in overlap)
    dropped = " (done for this run)." if config.data.drop_test_overlap else "."
    lines += [
        f"{len(overlap)} distinct texts appear in both the training and the test split, "
        f"{same} of them with the same label in both. A model that saw them in training is "
        "scored on them again. Set `data.drop_test_overlap: true` to drop them from train"
        + dropped,
        "",
        "<details><summary>The overlapping texts (first 300 characters each)</summary>",
        "",
    ]
    for i, (text, _) in enumerate(overlap, 1):
        short = text if len(text) <= 300 else text[:297] + "..."
        lines.append(f"{i}. {short.replace('|', '/')}")
    return [*lines, "", "</details>", ""]
