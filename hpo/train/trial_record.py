"""A trial's record: what it trained, its evaluations on the samples-seen axis, what it
measured and why it ended, kept in the Optuna trial's user attrs.

One typed record with its writers here (the trainer records evaluations and measurements, a
failure its reason, the surplus check and the reference enqueue their marks, each through the
names below) and one reader, :meth:`TrialRecord.of`, for everything above ``train/`` (the
deadline, the peak epoch, the study note, the exported provenance, the re-planned final stage).
The attr names are those hpo has always stored, so old studies read as they are.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hpo.train.memory import device_peak_mb, memory_mb

#: User attr names of a trial. Evaluations, one dict each: ``epoch``, ``samples_seen``,
#: ``value`` (study.metric), ``accuracy``, ``loss``.
EVALS_ATTR = "evals"
#: Samples seen when the search's share of the budget stopped the trial (a real value, kept).
CUT_BY_BUDGET_ATTR = "cut_by_budget"
#: Samples seen when the pruner stopped it.
PRUNED_AT_ATTR = "pruned_at_samples"
#: The error that failed it, one line.
FAIL_REASON_ATTR = "fail_reason"
#: True: started after the study was full, never trained.
SURPLUS_ATTR = "surplus"
#: True: the reference setup, enqueued as the first trial.
REFERENCE_ATTR = "reference"
#: True: the trial failed because the device ran out of memory.
OUT_OF_MEMORY_ATTR = "out_of_memory"
#: A retry of a trial that ran out of memory: its per-device batch divided by this and its
#: gradient accumulation multiplied by it (the effective batch stays), and the trial it retries.
BATCH_DIVISOR_ATTR = "batch_divisor"
RETRY_OF_ATTR = "retry_of"


@dataclass(frozen=True)
class Evaluation:
    """One evaluation of a trial on the validation split."""

    epoch: float
    samples_seen: int
    #: ``study.metric``'s value (``accuracy`` in records older than that key).
    value: float
    accuracy: float = float("nan")
    loss: float = float("nan")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Evaluation:
        """An evaluation from its stored dict."""
        value = data.get("value", data.get("accuracy", float("nan")))
        return cls(
            epoch=float(data["epoch"]),
            samples_seen=int(data.get("samples_seen", 0)),
            value=float(value),
            accuracy=float(data.get("accuracy", float("nan"))),
            loss=float(data.get("loss", float("nan"))),
        )

    def to_dict(self) -> dict[str, Any]:
        """The stored form."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Measurements:
    """What a trial measured of itself when it ended (the planner re-plans from these)."""

    samples_trained: int
    samples_scored: int
    train_runtime: float
    train_samples_per_second: float
    tokens_processed: int
    tokens_real: int
    padding_efficiency: float | None
    step_seconds: float
    eval_seconds: float
    wall_seconds: float
    rss_mb: float
    peak_rss_mb: float
    train_attn_implementation: str | None
    eval_attn_implementation: str | None
    dropout_masks: Any
    #: The per-device batch and gradient accumulation it trained with (a retry's halved one).
    per_device_train_batch_size: int | None = None
    gradient_accumulation_steps: int | None = None
    #: The accelerator's peak allocated MiB during this trial; None on a CPU.
    peak_device_mb: float | None = None

    @classmethod
    def of(cls, trainer: Any, runtime: float, output: Any) -> Measurements:
        """What an :class:`~hpo.train.trainer.HpoTrainer` measured of the trial it just ran
        (``runtime`` seconds, ``output`` what ``train`` returned, None when it failed)."""
        metrics = output.metrics if output is not None else {}
        timed = trainer.timer.last
        rss, peak = memory_mb()
        train_kernel, eval_kernel = trainer.attention_kernels()
        args = trainer.args
        samples = (
            trainer.state.global_step * args.train_batch_size * args.gradient_accumulation_steps
        )
        tokens, real = trainer.tokens_processed, trainer.tokens_real
        return cls(
            # What the budget planner re-plans the final stage from: per-example seconds.
            samples_trained=samples,
            samples_scored=len(trainer.eval_history) * len(trainer.eval_dataset or ()),
            train_runtime=round(metrics.get("train_runtime", runtime), 3),
            train_samples_per_second=round(
                metrics.get("train_samples_per_second", samples / runtime if runtime else 0.0), 3
            ),
            tokens_processed=tokens,
            tokens_real=real,
            padding_efficiency=round(real / tokens, 4) if tokens else None,
            step_seconds=round(timed["step_seconds"], 3),
            eval_seconds=round(timed["eval_seconds"], 3),
            wall_seconds=round(runtime, 3),
            rss_mb=round(rss, 1),
            peak_rss_mb=round(peak, 1),
            # The kernels the model ran (model.attn_implementation: auto decides).
            train_attn_implementation=train_kernel,
            eval_attn_implementation=eval_kernel,
            dropout_masks=trainer.kernels.dropout_masks,
            per_device_train_batch_size=args.per_device_train_batch_size,
            gradient_accumulation_steps=args.gradient_accumulation_steps,
            peak_device_mb=device_peak_mb(),
        )

    def write(self, trial: Any) -> None:
        """Record the measurements on ``trial``."""
        for key, value in dataclasses.asdict(self).items():
            trial.set_user_attr(key, value)


@dataclass(frozen=True)
class TrialRecord:
    """A stored trial as hpo reads it."""

    number: int
    params: dict[str, Any]
    evals: tuple[Evaluation, ...] = ()
    #: :class:`Measurements`' fields as stored; empty for a trial that never measured itself.
    measured: dict[str, Any] = dataclasses.field(default_factory=dict)
    cut_by_budget: int | None = None
    pruned_at_samples: int | None = None
    fail_reason: str | None = None
    surplus: bool = False
    reference: bool = False
    out_of_memory: bool = False
    #: > 1 for the retry of a trial that ran out of memory (:data:`BATCH_DIVISOR_ATTR`).
    batch_divisor: int = 1
    retry_of: int | None = None

    @classmethod
    def of(cls, trial: Any) -> TrialRecord:
        """The record of an Optuna trial (frozen or running)."""
        attrs = trial.user_attrs
        names = {f.name for f in dataclasses.fields(Measurements)}
        return cls(
            number=trial.number,
            params=dict(trial.params),
            evals=tuple(Evaluation.from_dict(e) for e in attrs.get(EVALS_ATTR) or ()),
            measured={k: v for k, v in attrs.items() if k in names},
            cut_by_budget=attrs.get(CUT_BY_BUDGET_ATTR),
            pruned_at_samples=attrs.get(PRUNED_AT_ATTR),
            fail_reason=attrs.get(FAIL_REASON_ATTR),
            surplus=bool(attrs.get(SURPLUS_ATTR)),
            reference=bool(attrs.get(REFERENCE_ATTR)),
            out_of_memory=bool(attrs.get(OUT_OF_MEMORY_ATTR)),
            batch_divisor=int(attrs.get(BATCH_DIVISOR_ATTR) or 1),
            retry_of=attrs.get(RETRY_OF_ATTR),
        )

    def peak(self) -> Evaluation | None:
        """The best evaluation, the earliest of equal bests: the model the trial keeps."""
        if not self.evals:
            return None
        return max(self.evals, key=lambda e: (e.value, -e.epoch))

    def peak_epoch(self) -> float:
        """The epoch (fraction allowed) of the best evaluation; the planned epochs without
        any."""
        best = self.peak()
        if best is None:
            return float(self.params.get("num_train_epochs", 1))
        return best.epoch

    def seconds_per_example(self) -> tuple[float | None, float | None]:
        """(training, scoring) seconds per example it measured, each None when unmeasured."""
        m = self.measured
        train = (
            m["step_seconds"] / m["samples_trained"]
            if m.get("samples_trained") and m.get("step_seconds")
            else None
        )
        score = (
            m["eval_seconds"] / m["samples_scored"]
            if m.get("samples_scored") and m.get("eval_seconds")
            else None
        )
        return train, score
