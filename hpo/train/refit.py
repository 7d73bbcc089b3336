"""A final stage fitted to its deadline by its own steps: its epochs and learning-rate schedule
set again once the first few percent of them are timed.

Planned epochs come from rates timed before the stage (a few seconds of steps), and a shared
machine's speed moves by more than that between processes minutes apart. So the stage is
started with room to grow (``num_train_epochs`` at the most it may train, the loop's ceiling),
its schedule at once set to the planned epochs (:func:`set_schedule`), and after
:data:`TIMED_SHARE` of its planned steps :class:`DeadlineFitCallback` times them, takes the
epochs (on a grid of twentieths, hundredths under one epoch) that fit the deadline at that pace
with their validation scoring, and moves the stop and the schedule's end there: a faster
machine trains longer, a slower one anneals its learning rate to zero before the deadline
instead of being cut off at full rate. At each later validation point it fits again on every
step timed so far and the scoring just timed, so a pace that drifts after the first fit moves
the end while the schedule can still reach it. Only schedules that are a multiplier of the step
(every one ``transformers.get_scheduler`` builds as a ``LambdaLR``) can be moved;
:func:`schedule_refits` says whether this one can.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

logger = logging.getLogger(__name__)

#: The share of the planned steps timed before the epochs are fitted: long enough that the
#: first steps' one-time costs (new batch shapes) weigh little, early enough to grow from.
TIMED_SHARE = 0.05
#: Steps left untimed at the start (the first batches build kernels and caches).
UNTIMED_STEPS = 5
#: Steps timed at least.
MIN_TIMED_STEPS = 20
#: A stop that still fits the deadline moves later only by more than this share of the planned
#: epochs.
KEEP_WITHIN = 0.03


def _probe_schedule(kind: Any, kwargs: dict[str, Any] | None, total: int, warmup: int) -> Any:
    """The schedule ``kind`` over ``total`` steps, on a throwaway optimizer."""
    import torch
    from transformers import get_scheduler

    probe = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    return get_scheduler(
        kind,
        probe,
        num_warmup_steps=warmup,
        num_training_steps=total,
        scheduler_specific_kwargs=kwargs or {},
    )


def schedule_refits(kind: Any, kwargs: dict[str, Any] | None, max_steps: int) -> bool:
    """Whether the schedule ``kind`` (``lr_scheduler_type``, with ``lr_scheduler_kwargs``) can
    be moved to another end (a ``LambdaLR``) and training is counted in epochs (no
    ``max_steps``)."""
    from torch.optim.lr_scheduler import LambdaLR

    if max_steps > 0:
        return False
    return isinstance(_probe_schedule(kind, kwargs, 100, 10), LambdaLR)


def set_schedule(scheduler: Any, args: TrainingArguments, total: int) -> bool:
    """Make ``scheduler`` (the Trainer's, running) the schedule ``args`` asks for over ``total``
    steps, its warmup resolved for that many, from the step it is at. False where it is not a
    multiplier schedule (left as it was)."""
    from torch.optim.lr_scheduler import LambdaLR

    inner = getattr(scheduler, "scheduler", scheduler)  # accelerate's wrapper, where there is one
    if not isinstance(inner, LambdaLR):
        return False
    fresh = _probe_schedule(
        args.lr_scheduler_type, args.lr_scheduler_kwargs, total, args.get_warmup_steps(total)
    )
    if not isinstance(fresh, LambdaLR):
        return False
    factor = fresh.lr_lambdas[0]
    inner.lr_lambdas = [factor for _ in inner.optimizer.param_groups]
    for group, base in zip(inner.optimizer.param_groups, inner.base_lrs, strict=True):
        group["lr"] = base * factor(inner.last_epoch)
    return True


def fit_grid(planned: float) -> int:
    """Epochs are fitted in ``1 / fit_grid(planned)`` ths: twentieths, or hundredths where less
    than one epoch is planned (a twentieth of a large training set is minutes of a budget left
    unspent)."""
    return 20 if planned >= 1 else 100


class DeadlineFitCallback(TrainerCallback):
    """Fit the run's epochs and schedule to ``deadline`` (``time.time()``) once its steps are
    timed, and again at each validation point after. ``stop``: the callback that ends training
    (its ``epoch`` is moved); ``planned``: the epochs planned; ``most``: the epochs the loop may
    run (``num_train_epochs``); ``eval_seconds``: one scoring of validation, until one is timed;
    ``evals_per_epoch``: its points an epoch (and one where training stops); ``grid``: epochs
    are fitted in ``1 / grid`` ths (by default :func:`fit_grid` of ``planned``)."""

    def __init__(
        self,
        stop: Any,
        *,
        planned: float,
        most: float,
        deadline: float,
        eval_seconds: float,
        evals_per_epoch: int,
        grid: int | None = None,
    ) -> None:
        self.stop, self.planned, self.most, self.deadline = stop, planned, most, deadline
        self.eval_seconds, self.evals_per_epoch = eval_seconds, evals_per_epoch
        self.grid = grid or fit_grid(planned)
        self.steps_per_epoch = 0.0
        self.fit_at = 0
        self.fitted: float | None = None
        self._began: float | None = None
        self._evaluating = 0.0
        self._last_step = 0.0

    def on_train_begin(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        lr_scheduler: Any = None,
        **kwargs: Any,
    ) -> None:
        self.steps_per_epoch = state.max_steps / max(args.num_train_epochs, 1e-9)
        set_schedule(lr_scheduler, args, math.ceil(self.planned * self.steps_per_epoch))
        planned_steps = self.planned * self.steps_per_epoch
        # Within the first half of a short run, however few steps that times.
        self.fit_at = min(
            UNTIMED_STEPS + max(MIN_TIMED_STEPS, round(TIMED_SHARE * planned_steps)),
            max(UNTIMED_STEPS + 1, math.floor(planned_steps / 2)),
        )

    def on_step_end(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        lr_scheduler: Any = None,
        **kwargs: Any,
    ) -> None:
        now = time.perf_counter()
        self._last_step = now
        if state.global_step == UNTIMED_STEPS:
            self._began, self._evaluating = now, 0.0
        if state.global_step != self.fit_at or self._began is None or self.fitted is not None:
            return
        self.fitted = self._fit(args, state, self._pace(state.global_step), lr_scheduler)

    def on_evaluate(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        lr_scheduler: Any = None,
        **kwargs: Any,
    ) -> None:
        # An evaluation runs between one step's end and the next step: its time is not a step's.
        took = time.perf_counter() - self._last_step
        # Fitted before: fit again on all the steps timed since, a longer and later sample of
        # the pace than the first fit's (the deadline otherwise cuts a run whose pace slowed at
        # a learning rate the schedule has not brought down).
        per_step = self._pace(state.global_step)  # before this evaluation's time is counted
        self._evaluating += took
        self.eval_seconds = took
        if self.fitted is None or self._began is None or control.should_training_stop:
            return
        self.fitted = self._fit(args, state, per_step, lr_scheduler)

    def _pace(self, global_step: int) -> float:
        """Seconds a step, from the untimed steps' end to the last step's, evaluations out."""
        stepping = self._last_step - (self._began or self._last_step) - self._evaluating
        return stepping / max(1, global_step - UNTIMED_STEPS)

    def seconds_to(self, epoch: float, now_epoch: float, per_step: float) -> float:
        """Seconds from ``now_epoch`` to a stop at ``epoch``: its steps and its evaluations."""
        steps = (epoch - now_epoch) * self.steps_per_epoch
        points = math.floor(epoch * self.evals_per_epoch + 1e-6) - math.floor(
            now_epoch * self.evals_per_epoch + 1e-6
        )
        return steps * per_step + (points + 1) * self.eval_seconds

    def _fit(
        self, args: TrainingArguments, state: TrainerState, per_step: float, scheduler: Any
    ) -> float:
        now_epoch = state.epoch or 0.0
        left = self.deadline - time.time()
        first = math.floor(now_epoch * self.grid) + 1
        fitting = [
            k / self.grid
            for k in range(first, math.floor(self.most * self.grid + 1e-6) + 1)
            if self.seconds_to(k / self.grid, now_epoch, per_step) <= left
        ]
        epochs = fitting[-1] if fitting else first / self.grid
        current = self.stop.epoch
        # A stop that still fits stays unless the fit gains more than KEEP_WITHIN: a schedule
        # moved back and forth by a pace's noise gains nothing; one that does not fit moves.
        still_fits = current > now_epoch and self.seconds_to(current, now_epoch, per_step) <= left
        if still_fits and epochs <= current + KEEP_WITHIN * self.planned:
            return current
        if not set_schedule(scheduler, args, math.ceil(epochs * self.steps_per_epoch)):
            return current
        logger.info(
            "Final stage fitted to its deadline at epoch %.2f: %.2f s a step over %d steps, so "
            "%g epochs instead of %g (the learning rate now ends there)",
            now_epoch,
            per_step,
            state.global_step - UNTIMED_STEPS,
            epochs,
            current,
        )
        self.stop.epoch = epochs
        return epochs
