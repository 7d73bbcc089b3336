"""Tables (and later plots) of a study, for people."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna


def trials_table(study: optuna.Study) -> str:
    """One row per trial: number, state, accuracy, duration and params, aligned for a terminal."""
    header = ["#", "state", "accuracy", "seconds", "params"]
    rows = []
    for t in study.get_trials(deepcopy=False):
        seconds = f"{t.duration.total_seconds():.1f}" if t.duration is not None else "-"
        value = f"{t.value:.4f}" if t.value is not None else "-"
        if t.value is None and t.intermediate_values:
            value = f"({max(t.intermediate_values.values()):.4f})"
        params = json.dumps({k: _short(v) for k, v in t.params.items()})
        rows.append([str(t.number), t.state.name, value, seconds, params])
    if not rows:
        return f"study {study.study_name!r} has no trials yet."
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    lines = []
    for r in [header, *rows]:
        cells = [c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)]
        lines.append("  ".join([*cells, r[-1]]))
    return "\n".join(lines)


def _short(value: object) -> object:
    return float(f"{value:.4g}") if isinstance(value, float) else value


# --------------------------------------------------------------------------------------------
# The final report: runs/<study>/report.md and its PNG plots
# --------------------------------------------------------------------------------------------


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


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
        rows.append(
            (
                "reference setup (lr 2e-5, batch 16, wd 0.01, warmup 100)",
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


def plot_accuracies(rows: list[tuple[str, float | None, Any, str]], path: Path) -> None:
    """Bar chart of test accuracy with 95% bootstrap intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [(n, a, ci) for n, a, ci, _ in rows if a is not None]
    fig, ax = plt.subplots(figsize=(8, 0.9 + 0.7 * len(shown)))
    names = [n.split(" (")[0].split(":")[0] for n, _, _ in shown]
    values = [a for _, a, _ in shown]
    errors = [[a - ci[0] for _, a, ci in shown], [ci[1] - a for _, a, ci in shown]]
    colors = ["#9e9e9e"] * (len(shown) - 1) + ["#1e88e5"]
    ax.barh(names, values, xerr=errors, color=colors, capsize=4)
    for y, v in enumerate(values):
        # Inside the bar, clear of the error bar at its end.
        ax.text(
            v - 0.012,
            y,
            f"{100 * v:.1f}%",
            va="center",
            ha="right",
            fontsize=10,
            color="white",
            fontweight="bold",
        )
    low = min(values) if values else 0.5
    ax.set_xlim(max(0.0, low - 0.1), 1.0)
    ax.set_xlabel("test accuracy (95% bootstrap CI)")
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_study(study: optuna.Study, out_dir: Path) -> dict[str, str]:
    """Optimization history and parameter importances as PNGs; returns name -> file or reason."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as ovm

    made: dict[str, str] = {}
    for name, func in (
        ("optimization_history", ovm.plot_optimization_history),
        ("param_importances", ovm.plot_param_importances),
    ):
        path = out_dir / f"{name}.png"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
                ax = func(study)
            fig = ax.figure if hasattr(ax, "figure") else ax[0].figure
            fig.set_size_inches(8, 4.5)
            fig.tight_layout()
            fig.savefig(path, dpi=110)
            plt.close(fig)
            made[name] = path.name
        except (ValueError, RuntimeError) as exc:  # e.g. importances need 2+ complete trials
            made[name] = f"not drawn: {exc}"
    return made


def write_report(
    study: optuna.Study, config: Any, results: dict[str, Any], overlap: list[str], out_dir: Path
) -> Path:
    """``report.md`` plus PNG plots in ``out_dir``; returns the report's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = accuracy_rows(results)
    plot_accuracies(rows, out_dir / "test_accuracy.png")
    plots = plot_study(study, out_dir)
    tuned, classical = results.get("tuned"), results.get("classical")
    lines = [
        f"# {config.study.name}: final report",
        "",
        f"Model `{config.model.name}`, data `{config.data.path or config.data.dataset}`, "
        f"max_length {config.data.max_length}. Test split: "
        f"{tuned['n'] if tuned else '?'} reviews, scored once per model.",
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
    if tuned and classical:
        diff = tuned["accuracy"] - classical["accuracy"]
        winner = "The tuned transformer" if diff > 0 else "The classical baseline"
        lines.append(
            f"**{winner} is higher**, by {abs(100 * diff):.2f} points "
            f"({_pct(tuned['accuracy'])} vs {_pct(classical['accuracy'])})."
        )
    reference = results.get("reference")
    if tuned and reference:
        diff = tuned["accuracy"] - reference["accuracy"]
        lines.append(
            f"Tuning {'beats' if diff > 0 else 'does not beat'} the reference setup "
            f"at the same epoch budget: {100 * diff:+.2f} points."
        )
    if tuned:
        cm = tuned["confusion_matrix"]["rows_true_cols_pred"]
        lines += [
            "",
            "## Tuned model",
            "",
            f"Params: `{tuned['params']}`; trained {tuned['epochs_trained']} epochs on "
            f"{tuned['train_size']} reviews in {tuned['train_seconds']:.0f} s "
            f"({tuned['train_samples_per_second']} samples/s); test scored in "
            f"{tuned['test_seconds']:.0f} s.",
            "",
            "| true \\ predicted | neg | pos |",
            "| --- | --- | --- |",
            f"| neg | {cm[0][0]} | {cm[0][1]} |",
            f"| pos | {cm[1][0]} | {cm[1][1]} |",
        ]
    lines += ["", "## Search", ""]
    for name, made in plots.items():
        title = name.replace("_", " ")
        lines.append(f"![{title}]({made})" if made.endswith(".png") else f"{title}: {made}")
        lines.append("")
    lines += ["```", trials_table(study), "```", ""]
    lines += [
        "## Reviews in both train and test",
        "",
        f"{len(overlap)} distinct review texts appear in both the training and the test split "
        "(every one with the same label in IMDb). A model that saw them in training is scored "
        "on them again. Set `data.drop_test_overlap: true` to drop them from train"
        + (" (done for this run)." if config.data.drop_test_overlap else "."),
        "",
        "<details><summary>The overlapping reviews (first 300 characters each)</summary>",
        "",
    ]
    for i, text in enumerate(overlap, 1):
        short = text if len(text) <= 300 else text[:297] + "..."
        lines.append(f"{i}. {short.replace('|', '/')}")
    lines += ["", "</details>", ""]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
