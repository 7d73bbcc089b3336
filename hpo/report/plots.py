"""The report's pictures: test scores with their intervals, the search's history and
parameter importances, and the confusion matrix. Each function returns or saves a matplotlib
figure drawn off screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from hpo.data.labels import MANY_CLASSES


def pyplot() -> Any:
    """matplotlib.pyplot on the off-screen Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def score_figure(
    rows: list[tuple[str, float, Any]], metric: str = "accuracy", *, percent: bool = True
) -> Any:
    """Bar chart of a test score with 95% bootstrap intervals, on the whole 0-1 axis (from -1
    when a Matthews correlation is below 0).

    A bar's length is its score, so the axis starts at 0; each value is written past the
    end of its error bar, where the bar cannot hide it.
    """
    plt = pyplot()
    shown = list(rows)
    fig, ax = plt.subplots(figsize=(8, 0.9 + 0.7 * max(1, len(shown))))
    names = [n.split(" (")[0].split(":")[0] for n, _, _ in shown]
    values = [a for _, a, _ in shown]
    errors = [[a - ci[0] for _, a, ci in shown], [ci[1] - a for _, a, ci in shown]]
    colors = ["#9e9e9e"] * (len(shown) - 1) + ["#1e88e5"]
    ax.barh(names, values, xerr=errors, color=colors, capsize=4)
    for y, (_, value, ci) in enumerate(shown):
        label = f"{100 * value:.1f}%" if percent else f"{value:.3f}"
        ax.text(ci[1] + 0.01, y, label, va="center", ha="left", fontsize=10)
    low = -1.0 if any(ci[0] < 0 for _, _, ci in shown) else 0.0
    ax.set_xlim(low, 1.12)
    ax.set_xticks([x / 5 for x in range(int(5 * low), 6)])
    ax.set_xlabel(f"test {metric} (95% bootstrap CI)")
    ax.invert_yaxis()
    fig.tight_layout()
    return fig


def history_figure(study: optuna.Study, metric: str = "accuracy") -> Any:
    """The validation metric by trial: complete trials, pruned trials at the best value they
    reached before they were stopped, and the best so far."""
    plt = pyplot()
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
        label=f"pruned (best {metric} before it was stopped)",
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
    ax.set_ylabel(f"validation {metric}")
    ax.set_title("Optimization history")
    if complete or pruned:
        # Below the axes, where no point can be hidden behind it.
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, frameon=False)
    fig.tight_layout()
    return fig


def plot_study(study: optuna.Study, out_dir: Path, metric: str = "accuracy") -> dict[str, str]:
    """Optimization history and parameter importances as PNGs; returns name -> file or reason."""
    import warnings

    from optuna.visualization import matplotlib as ovm

    plt = pyplot()
    made: dict[str, str] = {}
    fig = history_figure(study, metric)
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


#: Largest side of a confusion picture, in inches.
_MAX_SIDE = 12.0


def confusion_figure(matrix: list[list[int]], names: list[str]) -> Any:
    """The confusion matrix as a heat map, each cell with its count and its share of the true
    class (a row), so a small class's errors show as plainly as a large one's. Past
    :data:`hpo.data.labels.MANY_CLASSES` classes: the shares alone, small tick labels, in a
    picture of bounded size (a heat map read at a glance; the report's tables have numbers)."""
    import numpy as np

    plt = pyplot()
    counts = np.asarray(matrix)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    many = len(names) > MANY_CLASSES
    size = min(_MAX_SIDE, 2.5 + 0.8 * len(names))
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    ax.grid(False)  # Optuna's plots switch on a style with grid lines, which would cut cells
    font = max(4.0, min(10.0, 400 / len(names))) if many else None
    ax.set_xticks(range(len(names)), names, rotation=90 if many else 30, ha="right", fontsize=font)
    ax.set_yticks(range(len(names)), names, fontsize=font)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for (i, j), count in np.ndenumerate(counts):
        if many:
            break
        color = "white" if shares[i, j] > 0.6 else "black"
        ax.text(j, i, f"{count}\n{shares[i, j]:.0%}", ha="center", va="center", color=color)
    fig.colorbar(image, ax=ax, label="share of the true class")
    ax.set_title("Tuned model on the test split")
    fig.tight_layout()
    return fig
