"""Experiment tracking: a run per trial and one per final-stage model, in TensorBoard, MLflow
or Weights & Biases.

``training.report_to`` names the trackers, as for Trainer. hpo drives its own evaluations (the
grid of ``study.evals_per_epoch``, reported on the samples-seen axis the pruner uses), which
Trainer's integrations would log against ``global_step``, under run names of Trainer's own, and
one MLflow run for a whole search. So hpo takes ``tensorboard``, ``mlflow`` and ``wandb`` out of
what it gives ``TrainingArguments`` and logs to them itself:

- one run per trial, ``<study>-trial-<number>``: the trial's params, every evaluation
  (``eval/<metric>``, ``eval/accuracy``, ``eval/loss``) with the training samples seen as its
  step, and at the end the trial's value (its best evaluation) and state;
- one run per final-stage model, ``<study>-final`` (``<study>-reference``): its params and its
  test figures with their intervals.

Where they go: TensorBoard event files under ``runs/<study>/tensorboard/<run>/``; MLflow to
``MLFLOW_TRACKING_URI`` when it is set, else a SQLite store ``runs/<study>/mlflow.db``, in an
experiment named after the study; W&B to the project named after the study (``WANDB_MODE=offline``
keeps it on disk). Any other ``report_to`` value is left to Trainer.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hpo.errors import ConfigError

logger = logging.getLogger(__name__)

#: The trackers hpo logs to itself; the pip package each needs.
TRACKERS = {"tensorboard": "tensorboard", "mlflow": "mlflow", "wandb": "wandb"}


def split_report_to(value: Any) -> tuple[list[str], list[str]]:
    """(hpo's trackers, the rest for Trainer) of a ``report_to`` setting."""
    if value in (None, "none", "None", [], ()):
        return [], []
    names = [value] if isinstance(value, str) else list(value)
    if "all" in names:
        raise ConfigError(
            "training.report_to: 'all' would log to every tracker that happens to be installed; "
            f"name them, e.g. [{', '.join(TRACKERS)}]."
        )
    ours = [n for n in names if n in TRACKERS]
    return ours, [n for n in names if n not in TRACKERS]


class _TensorBoard:
    def __init__(self, root: Path, experiment: str) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise _missing("tensorboard") from None
        self._writer_class, self.root, self.writer = SummaryWriter, root / "tensorboard", None

    def start(self, name: str, params: Mapping[str, Any]) -> None:
        self.writer = self._writer_class(log_dir=str(self.root / name))
        self.writer.add_text("params", json.dumps(dict(params), default=str, indent=1))

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        for key, value in metrics.items():
            self.writer.add_scalar(key, value, step)
        self.writer.flush()

    def end(self, summary: Mapping[str, float], status: str, step: int) -> None:
        for key, value in summary.items():
            self.writer.add_scalar(key, value, step)
        self.writer.add_text("status", status)
        self.writer.close()
        self.writer = None


class _MLflow:
    def __init__(self, root: Path, experiment: str) -> None:
        try:
            from mlflow import MlflowClient
        except ImportError:
            raise _missing("mlflow") from None
        # MLflow refuses new file stores: a SQLite file is its own local default now.
        default = f"sqlite:///{(root / 'mlflow.db').absolute()}"
        uri = os.environ.get("MLFLOW_TRACKING_URI") or default
        root.mkdir(parents=True, exist_ok=True)
        self.client = MlflowClient(tracking_uri=uri)
        found = self.client.get_experiment_by_name(experiment)
        self.experiment = (
            found.experiment_id if found else self.client.create_experiment(experiment)
        )
        self.run_id: str | None = None

    def start(self, name: str, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        run = self.client.create_run(self.experiment, run_name=name)
        self.run_id = run.info.run_id
        self.client.log_batch(self.run_id, params=[Param(k, str(v)) for k, v in params.items()])

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        for key, value in metrics.items():
            self.client.log_metric(self.run_id, key, value, step=step)

    def end(self, summary: Mapping[str, float], status: str, step: int) -> None:
        for key, value in summary.items():
            self.client.log_metric(self.run_id, key, value, step=step)
        self.client.set_tag(self.run_id, "hpo.state", status)
        done = "FAILED" if status == "FAIL" else "FINISHED"
        self.client.set_terminated(self.run_id, status=done)
        self.run_id = None


class _Wandb:
    def __init__(self, root: Path, experiment: str) -> None:
        try:
            import wandb
        except ImportError:
            raise _missing("wandb") from None
        self.wandb, self.root, self.project, self.run = wandb, root, experiment, None

    def start(self, name: str, params: Mapping[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.run = self.wandb.init(
            project=self.project, name=name, config=dict(params), dir=str(self.root), reinit=True
        )
        self.run.define_metric("samples_seen")
        self.run.define_metric("*", step_metric="samples_seen")

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        self.run.log({**metrics, "samples_seen": step})

    def end(self, summary: Mapping[str, float], status: str, step: int) -> None:
        self.run.summary.update({**summary, "state": status})
        self.run.finish(exit_code=1 if status == "FAIL" else 0)
        self.run = None


_BACKENDS = {"tensorboard": _TensorBoard, "mlflow": _MLflow, "wandb": _Wandb}


def _missing(name: str) -> ConfigError:
    return ConfigError(
        f"training.report_to: {name!r} needs the {TRACKERS[name]} package, which is not "
        f"installed. pip install {TRACKERS[name]} (or 'hpo-tune[tracking]'), or drop it from "
        "report_to."
    )


class Tracking:
    """The trackers of one config, logging one run at a time."""

    def __init__(self, names: Sequence[str], root: Path, experiment: str) -> None:
        self.names = list(names)
        self.backends = [_BACKENDS[name](root, experiment) for name in names]
        self.active = False
        self.last_step = 0

    def start(self, name: str, params: Mapping[str, Any]) -> None:
        """Begin the run ``name`` with ``params``."""
        for backend in self.backends:
            backend.start(name, params)
        self.active, self.last_step = True, 0

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        """Log ``metrics`` at ``step`` (training samples seen) in the current run."""
        if not self.active:
            return
        self.last_step = step
        clean = {k: float(v) for k, v in metrics.items() if _finite(v)}
        for backend in self.backends:
            backend.log(clean, step)

    def trial_evaluation(self, trial: Any, record: Mapping[str, Any], metric: str) -> None:
        """Log one evaluation of a search trial (``record``: epoch, samples seen, value,
        accuracy, loss), its run begun at the first, when the trial's params are set. Replays
        (the final stage's fixed trials) are no search trials and log nothing."""
        if not hasattr(trial, "study"):
            return
        if not self.active:
            self.start(f"{trial.study.study_name}-trial-{trial.number}", dict(trial.params))
        metrics = {f"eval/{metric}": record["value"], "epoch": record["epoch"]}
        metrics |= {"eval/accuracy": record["accuracy"], "eval/loss": record["loss"]}
        self.log(metrics, record["samples_seen"])

    def end(self, summary: Mapping[str, float], status: str) -> None:
        """End the current run with its ``summary`` figures and its state."""
        if not self.active:
            return
        clean = {k: float(v) for k, v in summary.items() if _finite(v)}
        for backend in self.backends:
            try:
                backend.end(clean, status, self.last_step)
            except Exception as exc:  # a tracker's failure must not fail the trial
                logger.warning("Could not close the %s run: %s", type(backend).__name__, exc)
        self.active = False


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def tracking_for(report_to: Any, root: Path, experiment: str) -> Tracking | None:
    """The :class:`Tracking` of a ``report_to`` setting (None when it names none of hpo's)."""
    ours, _ = split_report_to(report_to)
    return Tracking(ours, root, experiment) if ours else None


def final_figures(metrics: Mapping[str, Any]) -> dict[str, float]:
    """A final-stage model's test figures, as tracker metrics."""
    out = {
        "test/accuracy": metrics["accuracy"],
        "test/accuracy_ci_low": metrics["ci95"][0],
        "test/accuracy_ci_high": metrics["ci95"][1],
    }
    metric = metrics.get("metric", "accuracy")
    if metric != "accuracy":
        out[f"test/{metric}"] = metrics["metric_value"]
        out[f"test/{metric}_ci_low"], out[f"test/{metric}_ci_high"] = metrics["metric_ci95"]
    return out
