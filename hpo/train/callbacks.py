"""Trainer callbacks of a trial: when to evaluate, when to stop, which weights to keep, what the
steps cost, what the terminal shows."""

from __future__ import annotations

import contextlib
import logging
import math
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from transformers import (
    ProgressCallback,
    TrainerCallback,
    TrainerControl,
    TrainerState,
    TrainingArguments,
)

logger = logging.getLogger(__name__)


def grid_point(epoch: float, evals_per_epoch: int) -> int:
    """Index of the last evaluation point reached at ``epoch`` (1e-6 absorbs float error)."""
    return math.floor(epoch * evals_per_epoch + 1e-6)


class GridEvaluationCallback(TrainerCallback):
    """Evaluate ``evals_per_epoch`` times per epoch, at the same fractions of an epoch in every
    trial whatever its batch size, so intermediate values line up for the pruner."""

    def __init__(self, evals_per_epoch: int) -> None:
        self.evals_per_epoch = evals_per_epoch
        self._last_point = 0

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        self._last_point = 0

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        point = grid_point(state.epoch or 0.0, self.evals_per_epoch)
        if point > self._last_point:
            self._last_point = point
            control.should_evaluate = True


class WarmupCheckCallback(TrainerCallback):
    """Warn when the warmup covers the whole run: the learning rate would never reach the
    value the trial is meant to test (100 warmup steps of a 25-step run scored at chance)."""

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        warmup = args.get_warmup_steps(state.max_steps)
        if state.max_steps > 0 and warmup >= state.max_steps:
            logger.warning(
                "warmup_steps=%d covers the whole run of %d steps, so the learning rate never "
                "reaches learning_rate=%g. Lower warmup_steps (or its search range).",
                warmup,
                state.max_steps,
                args.learning_rate,
            )


class StopAtEpochCallback(TrainerCallback):
    """Stop training once ``epoch`` is reached, keeping the learning-rate schedule of the full
    ``num_train_epochs`` run (``max_steps`` would squeeze the schedule instead). ``evaluate``:
    score the evaluation split at that last step too (a stop between grid points). ``stop_by``
    (``time.time()``): stop there too, whatever the epoch (a budget's deadline; with the best
    point kept on validation, stopping early loses only the epochs not trained)."""

    def __init__(
        self, epoch: float, *, evaluate: bool = False, stop_by: float | None = None
    ) -> None:
        self.epoch = epoch
        self.evaluate = evaluate
        self.stop_by = stop_by

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        late = self.stop_by is not None and time.time() >= self.stop_by
        if late or (state.epoch or 0.0) >= self.epoch - 1e-6:
            control.should_training_stop = True
            if self.evaluate:
                control.should_evaluate = True


class KeepBestCallback(TrainerCallback):
    """Keep the weights of the best evaluation so far in memory and put them back when training
    ends, so the model is its best point on the evaluation split. (``load_best_model_at_end``
    would write a checkpoint to disk at every evaluation to get the same.)"""

    def __init__(self, value_of: Callable[[dict[str, float]], float]) -> None:
        self.value_of = value_of
        self.best: float | None = None
        self.epoch: float | None = None
        self.history: list[tuple[float, float]] = []
        self._weights: dict[str, Any] | None = None

    def on_evaluate(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        metrics: dict[str, float] | None = None,
        model: Any = None,
        **kwargs: Any,
    ) -> None:
        if metrics is None or model is None:
            return
        value = self.value_of(metrics)
        epoch = round(state.epoch or 0.0, 4)
        self.history.append((epoch, value))
        if self.best is None or value > self.best:
            self.best, self.epoch = value, epoch
            self._weights = {
                k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()
            }

    def on_train_end(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        model: Any = None,
        **kwargs: Any,
    ) -> None:
        if self._weights is not None and model is not None:
            model.load_state_dict(self._weights)
            self._weights = None


class StepTimer(TrainerCallback):
    """Seconds spent inside training steps and inside evaluation, per ``train()`` call.

    A trial's wall time minus these two is its overhead: model loading, data loaders, checkpoint
    writes, storage round trips. The search speed benchmark (``bench/search_speed.py``) attaches
    the same timer to the plain recipe, so both are measured alike.
    """

    def __init__(self) -> None:
        self.runs: list[dict[str, float]] = []
        self._step_start: float | None = None

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        self.runs.append({"step_seconds": 0.0, "eval_seconds": 0.0, "n_evals": 0})
        self._step_start = None

    def on_step_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        self._step_start = time.perf_counter()

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if self._step_start is not None and self.runs:
            self.runs[-1]["step_seconds"] += time.perf_counter() - self._step_start
        self._step_start = None

    def on_evaluate(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        metrics: dict[str, float] | None = None,
        **kwargs: Any,
    ) -> None:
        # eval_runtime is Trainer's own clock over the whole evaluate() call.
        if self.runs and metrics:
            self.runs[-1]["eval_seconds"] += float(metrics.get("eval_runtime", 0.0))
            self.runs[-1]["n_evals"] += 1

    @property
    def last(self) -> dict[str, float]:
        """Figures of the latest ``train()`` call (zeros before the first)."""
        return self.runs[-1] if self.runs else {"step_seconds": 0.0, "eval_seconds": 0.0}


class StepClock(TrainerCallback):
    """The time at the start of ``train()`` and at the end of each step (``marks``): each step's
    seconds, data loading included, are their differences. The planner's machine measurement
    and its check time single steps with it (:class:`StepTimer` keeps only the sums)."""

    def __init__(self) -> None:
        self.marks: list[float] = []

    def on_train_begin(self, *args: Any, **kwargs: Any) -> None:
        self.marks = [time.perf_counter()]

    def on_step_end(self, *args: Any, **kwargs: Any) -> None:
        self.marks.append(time.perf_counter())


def on_terminal() -> bool:
    """Whether standard error is a terminal: bars redraw there; anywhere else (a Slurm task's
    log, a file, a pipe) each redraw would be one more update on one long line."""
    return sys.stderr.isatty()


@contextlib.contextmanager
def library_bars_off() -> Iterator[None]:
    """The progress bars of ``datasets`` and Transformers off for a while, then as they were."""
    import datasets
    import transformers

    datasets_on = datasets.is_progress_bar_enabled()
    transformers_on = transformers.utils.logging.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    try:
        yield
    finally:
        if datasets_on:
            datasets.enable_progress_bars()
        if transformers_on:
            transformers.utils.logging.enable_progress_bar()


class LineProgressCallback(TrainerCallback):
    """Training progress as one log line every :attr:`every` percent of the steps: what output
    that is not a terminal gets instead of Trainer's bar."""

    every = 10

    def __init__(self) -> None:
        self._next = self.every

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> None:
        self._next = self.every

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> None:
        if not state.max_steps:
            return
        done = 100 * state.global_step / state.max_steps
        if done + 1e-9 >= self._next:
            logger.info(
                "Training: step %d of %d (%.0f%%, epoch %.2f)",
                state.global_step,
                state.max_steps,
                done,
                state.epoch or 0.0,
            )
            self._next = (math.floor(done / self.every) + 1) * self.every


class BarOnlyProgressCallback(ProgressCallback):
    """Trainer's step bar without the metric dicts it writes under it (numbers as strings,
    one per logging step and evaluation): hpo logs one line per trial start, prune and
    finish, and the trial's user attrs keep every evaluation."""

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        return None
