"""The trial's Trainer: built in one place for every search trial and the final retrain.

:class:`HpoTrainer` reports to Optuna on the samples-seen axis, keeps each trial's best
evaluation as its value, records per-trial figures on the trial, and lets the last trial's
model go before the next one is built. Search and retrain share :func:`build_trainer`, so a
best trial is replayed with the construction it was scored with.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch.utils.data import Sampler, SequentialSampler
from transformers import (
    DataCollatorWithPadding,
    PrinterCallback,
    ProgressCallback,
    Trainer,
)

from hpo.config.space import make_hp_space
from hpo.data.labels import names_of
from hpo.errors import HpoError
from hpo.runs import RunLayout
from hpo.train.arguments import training_arguments
from hpo.train.batching import LengthBucketSampler
from hpo.train.callbacks import (
    BarOnlyProgressCallback,
    GridEvaluationCallback,
    LineProgressCallback,
    StepTimer,
    WarmupCheckCallback,
    grid_point,
    on_terminal,
)
from hpo.train.failure import fatal_for, note_failure
from hpo.train.kernels import StepKernels
from hpo.train.memory import out_of_memory, release_device, release_heap, reset_device_peak
from hpo.train.model import make_model_init
from hpo.train.objective import Objective, make_compute_metrics, objective_for, objective_value
from hpo.train.settings import halving_batch
from hpo.train.tracking import Tracking, tracking_for
from hpo.train.trial_record import (
    BATCH_DIVISOR_ATTR,
    CUT_BY_BUDGET_ATTR,
    EVALS_ATTR,
    PRUNED_AT_ATTR,
    Measurements,
)

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedTokenizerBase

    from hpo.config.schema import ParamSpec, TrainerSetup

logger = logging.getLogger(__name__)


class HpoTrainer(Trainer):
    """Trainer that reports to Optuna on an axis that means the same in every trial.

    Trainer reports intermediate values against ``global_step``, which counts different amounts
    of data when trials differ in batch size. Here the step is *training samples seen* at the
    evaluation point (``point / evals_per_epoch * n_train``), so a median pruner compares like
    with like. The trial's objective is its best evaluation (the model it would keep), not its
    last one (transformers#25247). Per-trial figures go to the trial's user attrs.
    """

    def __init__(
        self,
        *args: Any,
        evals_per_epoch: int | None = 1,
        before_trial: Callable[[Any], None] | None = None,
        kernels: StepKernels | None = None,
        objective_metric: Objective | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.objective_metric = objective_metric or Objective("accuracy", 2)
        self.evals_per_epoch = evals_per_epoch or 1
        self.before_trial = before_trial
        self.kernels = kernels or StepKernels(train_attn_implementation=None, packed_dropout=False)
        if evals_per_epoch:  # None: no evaluation while training (the final retrain)
            self.add_callback(GridEvaluationCallback(evals_per_epoch))
        self.timer = StepTimer()
        self.add_callback(self.timer)
        self.add_callback(WarmupCheckCallback())
        #: Wall-clock time (``time.time()``) a trial must not train past: set by a budgeted
        #: search. A trial that would reach its next evaluation after it stops at this one and
        #: keeps its best value (``cut_by_budget``), rather than being pruned or overrunning.
        self.deadline: float | None = None
        #: The trackers of ``training.report_to`` that hpo logs to (:mod:`hpo.train.tracking`).
        self.tracking: Tracking | None = None
        self._reset_trial_state()

    def _reset_trial_state(self) -> None:
        #: An error of the config or data that ended the last trial (see the search loop).
        self.fatal: HpoError | None = None
        self.eval_history: list[dict[str, float]] = []
        self.best_objective: float | None = None
        self.tokens_processed = 0
        self.tokens_real = 0
        self._since_eval = time.time()

    # -- batching -----------------------------------------------------------------------------

    def _get_train_sampler(self, train_dataset: Any = None) -> Sampler[int] | None:
        # Trainer passes a copy stripped of the columns forward() does not take, "length"
        # among them; the same rows with their lengths are in self.train_dataset.
        source, column = self.train_dataset, self.args.length_column_name
        if (
            self.args.train_sampling_strategy == "group_by_length"
            and self.args.world_size <= 1
            and column in getattr(source, "column_names", ())
            and (train_dataset is None or len(train_dataset) == len(source))
        ):
            batch = self.args.train_batch_size * self.args.gradient_accumulation_steps
            return LengthBucketSampler(source[column], batch)
        return super()._get_train_sampler(train_dataset)

    def _get_eval_sampler(self, eval_dataset: Any) -> Sampler[int] | None:
        # build_trainer sorted the validation set by length, so each batch pads to little.
        # Under group_by_length Trainer would reshuffle it into random megabatches.
        if eval_dataset is not None and self.args.world_size <= 1:
            return SequentialSampler(eval_dataset)
        return super()._get_eval_sampler(eval_dataset)

    # -- attention kernel and dropout masks (hpo.kernels) -------------------------------------

    def attention_kernels(self) -> tuple[str | None, str | None]:
        """(training, evaluation) attention kernels of the current model."""
        return self.kernels.kernels(self.model)

    def evaluation_loop(self, *args: Any, **kwargs: Any) -> Any:
        """Evaluate (and predict) with the kernel the model loaded with (see hpo.kernels)."""
        with self.kernels.evaluation(self.model):
            return super().evaluation_loop(*args, **kwargs)

    # -- counting -----------------------------------------------------------------------------

    def training_step(
        self, model: torch.nn.Module, inputs: dict[str, Any], num_items_in_batch: Any = None
    ) -> torch.Tensor:
        ids = inputs.get("input_ids")
        if ids is not None:
            self.tokens_processed += ids.numel()
            mask = inputs.get("attention_mask")
            self.tokens_real += int(mask.sum()) if mask is not None else ids.numel()
        # Forward and backward both run in here; the optimizer step and evaluation do not.
        with self.kernels.training(self.model):
            return super().training_step(model, inputs, num_items_in_batch)

    # -- reporting ----------------------------------------------------------------------------

    def samples_seen(self) -> int:
        """Training samples seen at the current evaluation point (the pruning axis)."""
        point = grid_point(self.state.epoch or 0.0, self.evals_per_epoch)
        n_train = len(self.train_dataset) if self.train_dataset is not None else 0
        return round(point * n_train / self.evals_per_epoch)

    def objective_of(self, metrics: dict[str, float]) -> float:
        """The trial objective (``study.metric``) from Trainer's evaluation metrics."""
        return objective_value(metrics, self.objective_metric)

    def _report_to_hp_search(self, trial: Any, step: int, metrics: dict[str, float]) -> None:
        value = self.objective_of(metrics)
        record = {
            "epoch": round(self.state.epoch or 0.0, 4),
            "samples_seen": self.samples_seen(),
            "value": value,
            "accuracy": float(metrics.get("eval_accuracy", float("nan"))),
            "loss": float(metrics.get("eval_loss", float("nan"))),
        }
        self.eval_history.append(record)
        self.best_objective = (
            value if self.best_objective is None else max(self.best_objective, value)
        )
        if self.tracking is not None:
            self.tracking.trial_evaluation(trial, record, self.objective_metric.metric)
        # What hyperparameter_search returns as the trial's value: the best evaluation so far.
        self.objective = self.best_objective
        if self.hp_search_backend is None or trial is None or not hasattr(trial, "report"):
            return
        import optuna

        if not hasattr(trial, "study"):  # FixedTrial: a replay, nothing to report to
            return
        trial.set_user_attr(EVALS_ATTR, self.eval_history)
        trial.report(value, record["samples_seen"])
        # At the last evaluation the trial has paid for all its training: pruning it then saves
        # nothing and would throw a finished result away.
        final = self.state.max_steps > 0 and self.state.global_step >= self.state.max_steps
        now = time.time()
        interval, self._since_eval = now - self._since_eval, now
        if not final and self.deadline is not None and now + interval > self.deadline:
            # The next evaluation would land past the search's share of the budget: stop here
            # with the best value so far. Not pruned: the value is a real measurement.
            logger.info(
                "Trial %d stopped by the budget at %d samples seen (the next evaluation would "
                "end %.0f s past the search's share); it keeps %s %.4f",
                trial.number,
                record["samples_seen"],
                now + interval - self.deadline,
                self.objective_metric.title,
                self.best_objective,
            )
            trial.set_user_attr(CUT_BY_BUDGET_ATTR, record["samples_seen"])
            self.control.should_training_stop = True
            return
        if not final and trial.should_prune():
            logger.info(
                "Trial %d pruned at %d samples seen (%s %.4f below the pruner's threshold)",
                trial.number,
                record["samples_seen"],
                self.objective_metric.title,
                value,
            )
            trial.set_user_attr(PRUNED_AT_ATTR, record["samples_seen"])
            self.callback_handler.on_train_end(self.args, self.state, self.control)
            raise optuna.TrialPruned(
                f"{self.objective_metric.title} {value:.4f} at {record['samples_seen']} "
                "samples seen"
            )

    def train(self, *args: Any, **kwargs: Any) -> Any:
        """Train, then record runtime, throughput and token counts on the Optuna trial."""
        import optuna

        trial = kwargs.get("trial")
        if self.before_trial is not None and hasattr(trial, "study"):
            self.before_trial(trial)
        self._reset_trial_state()
        if self.model_init is not None:
            self._release_last_trial()
        reset_device_peak()
        start = time.perf_counter()
        output = None
        state = "COMPLETE"
        try:
            output = super().train(*args, **kwargs)
            return output
        except optuna.TrialPruned:
            state = "PRUNED"
            raise
        except BaseException as exc:
            state = "FAIL"
            note_failure(trial, exc)
            if out_of_memory(exc):
                release_device()
            self.fatal = fatal_for(trial, exc)  # the search fails this trial, then ends
            raise
        finally:
            runtime = time.perf_counter() - start
            if trial is not None and hasattr(trial, "set_user_attr"):
                trial.set_user_attr(EVALS_ATTR, self.eval_history)
                Measurements.of(self, runtime, output).write(trial)
            if self.tracking is not None:
                self.tracking.end({"value": self.best_objective}, state)

    def _release_last_trial(self) -> None:
        """Let the last trial's model, optimizer and garbage go before the next trial starts.

        Trainer keeps the model and optimizer referenced (itself, its CallbackHandler, and the
        Accelerator it replaces only after ``model_init``), and Accelerate's mixed-precision
        wrapper stores the model's forward on the model, a reference cycle: dropping the
        references and that attribute lets reference counting free both. What a trial leaves
        in young cycles (a pruned trial's traceback holds its training frames) goes with a
        young-generation collection, far cheaper than a full one. Then glibc's
        ``malloc_trim`` hands freed heap pages back: dynamic padding allocates tensors of a new
        size almost every step, and on a fragmented heap a later trial with larger batches
        pushed the process's high-water mark up (the search speed benchmark's memory rows and
        the docs' *Search speed* have the figures with and without the trim).
        """
        model = self.model
        self.model = self.model_wrapped = None
        self.optimizer, self.lr_scheduler = None, None
        handler = self.callback_handler
        handler.model = handler.optimizer = handler.lr_scheduler = None
        if model is not None:  # the class's forward takes over again
            vars(model).pop("forward", None)
            vars(model).pop("_original_forward", None)
        del model
        release_heap()


def build_trainer(
    setup: TrainerSetup,
    *,
    train_dataset: Dataset,
    eval_dataset: Dataset | None,
    tokenizer: PreTrainedTokenizerBase,
    output_dir: str | Path,
    quiet: bool = False,
    overrides: Mapping[str, Any] | None = None,
    before_trial: Callable[[Any], None] | None = None,
) -> HpoTrainer:
    """The Trainer used by every search trial, the final retrain and the machine's timing.

    ``setup`` is what it reads of the config (:attr:`HpoConfig.trainer_setup`). Its
    ``model_init`` loads ``model.name`` afresh for each trial, with a head for the classes
    of ``train_dataset`` (its ``ClassLabel``); evaluation scores ``study.metric``; training
    steps and evaluation run with the kernels of :class:`hpo.train.kernels.StepKernels`.
    ``before_trial`` is called with each Optuna trial before it trains (the search passes its
    surplus check, :func:`hpo.search.trials.check_not_surplus`, so this layer needs no study).
    """
    labels = names_of(train_dataset)
    objective = objective_for(setup.metric, labels, positive_label=setup.positive_label)
    args = training_arguments(
        setup.training,
        setup.search_space,
        setup.reference,
        output_dir=output_dir,
        quiet=quiet,
        overrides=overrides,
    )
    if eval_dataset is not None and "length" in eval_dataset.column_names:
        # Batches of similar length pad less; the order does not change accuracy.
        with warnings.catch_warnings():
            # datasets passes pyarrow a sort option that pyarrow 25 deprecates; not ours to fix.
            warnings.simplefilter("ignore", FutureWarning)
            eval_dataset = eval_dataset.sort("length")
    tracked = (overrides or {}).get("report_to", setup.training.get("report_to"))
    trainer = HpoTrainer(
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
        model_init=make_model_init(setup.model, labels),
        compute_metrics=make_compute_metrics(objective),
        objective_metric=objective,
        evals_per_epoch=setup.evals_per_epoch if eval_dataset is not None else None,
        before_trial=before_trial,
        kernels=StepKernels.choose(
            setup.model.attn_implementation, setup.model.dropout_masks, args
        ),
    )
    trainer.tracking = tracking_for(tracked, RunLayout(setup.output_dir).root, setup.study_name)
    if quiet:
        # Trainer prints every log dict when its progress bar is off; quiet means quiet.
        trainer.remove_callback(PrinterCallback)
    elif trainer.pop_callback(ProgressCallback) is not None:
        trainer.add_callback(BarOnlyProgressCallback if on_terminal() else LineProgressCallback)
    return trainer


def replay(
    trainer: HpoTrainer,
    search_space: Mapping[str, ParamSpec],
    params: Mapping[str, Any],
    *,
    batch_divisor: int = 1,
    training: Mapping[str, Any] | None = None,
) -> Any:
    """A trial that gives ``params`` back through the search's own ``hp_space``: pass it as
    ``trainer.train(trial=...)`` and Trainer sets the arguments exactly as it does in a trial.

    The best trial and the reference are replayed with Optuna's ``FixedTrial``; the trainer is
    told it runs an Optuna search (``hp_search_backend``, ``hp_space``), as
    ``hyperparameter_search`` tells it, so that ``train`` applies the trial. ``batch_divisor``:
    the trial was an out-of-memory retry, replayed at its own divided batch (``training``: the
    fixed settings its batch comes from when not searched).
    """
    import optuna
    from transformers.trainer_utils import HPSearchBackend

    trainer.hp_search_backend = HPSearchBackend.OPTUNA
    trainer.hp_space = halving_batch(make_hp_space(search_space), search_space, training or {})
    trial = optuna.trial.FixedTrial({k: params[k] for k in search_space})
    if batch_divisor > 1:
        trial.set_user_attr(BATCH_DIVISOR_ATTR, batch_divisor)
    return trial
