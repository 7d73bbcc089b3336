"""The only place ``TrainingArguments`` and ``Trainer`` are built.

Search trials and the final retrain share :func:`build_trainer`, so a best trial is replayed with
the same construction it was scored with.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import logging
import math
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.data import Sampler, SequentialSampler
from transformers import (
    DataCollatorWithPadding,
    PrinterCallback,
    ProgressCallback,
    Trainer,
    TrainerCallback,
    TrainerControl,
    TrainerState,
    TrainingArguments,
)

from hpo.config import AUTO_WARMUP
from hpo.dropout import PackedDropout
from hpo.errors import ConfigError
from hpo.metrics import compute_metrics, compute_objective
from hpo.model import make_model_init

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedTokenizerBase

    from hpo.config import HpoConfig

logger = logging.getLogger(__name__)

#: Attribute on a model that keeps the attention kernel it was loaded with.
LOADED_KERNEL = "_hpo_loaded_attn_implementation"

#: SDPA backends for dynamically padded batches: PyTorch's own order without cuDNN attention.
#: On an H100 (torch 2.11) SDPA prefers cuDNN under bf16, and cuDNN builds an execution graph
#: for every new sequence length: 14 ms per attention call, 160 ms per MiniLM training step
#: and 1.4-2 s per evaluation batch of a new length, where a step takes 20 ms. Batches padded
#: to their longest review bring a new length almost every step, so trials paid it for
#: hundreds of lengths. Flash and memory-efficient attention have no per-shape cost.
SDPA_BACKENDS = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]


def _placeholder(config: HpoConfig, key: str) -> Any:
    """A value of the right type for a searched key before the trial sets it.

    Trainer casts each trial value to ``type(current value)``; ``warmup_steps`` defaults to the
    int 0, so a float ratio of 0.06 would silently become 0 without a float placeholder.
    """
    spec = config.search_space[key]
    if key in config.reference and config.reference[key] != AUTO_WARMUP:
        value = config.reference[key]
    elif spec.type == "categorical":
        value = spec.choices[0] if spec.choices else None
    else:
        value = spec.low
    if spec.type == "float":
        return float(value)
    if spec.type == "int":
        return int(value)
    return value


def training_arguments(
    config: HpoConfig,
    *,
    output_dir: str | Path,
    params: Mapping[str, Any] | None = None,
    quiet: bool = False,
    overrides: Mapping[str, Any] | None = None,
) -> TrainingArguments:
    """TrainingArguments for a trial (``params`` None: placeholders) or a replay of ``params``.

    Evaluation is driven by :class:`GridEvaluationCallback` and trials write no checkpoints: the
    trial's value is its best evaluation, which is what ``load_best_model_at_end`` would keep.
    """
    kwargs: dict[str, Any] = {"report_to": "none"}
    kwargs |= dict(config.training)
    for key in config.search_space:
        kwargs[key] = params[key] if params is not None else _placeholder(config, key)
    kwargs |= {
        "output_dir": str(output_dir),
        "eval_strategy": "no",
        "save_strategy": "no",
        "load_best_model_at_end": False,
        "disable_tqdm": quiet or kwargs.get("disable_tqdm", False),
    }
    if quiet:
        kwargs["log_level"] = "error"
    if "dataloader_pin_memory" not in kwargs and not torch.cuda.is_available():
        kwargs["dataloader_pin_memory"] = False  # pinning needs an accelerator; it only warns
    kwargs |= precision_defaults(kwargs, **hardware_precision())
    kwargs |= dict(overrides or {})
    try:
        return TrainingArguments(**kwargs)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{config.source}: training: {str(exc).splitlines()[0]}") from None


def hardware_precision() -> dict[str, bool]:
    """Which fast low-precision paths this machine has."""
    if torch.cuda.is_available():
        major, _ = torch.cuda.get_device_capability()
        return {"bf16": torch.cuda.is_bf16_supported(), "tf32": major >= 8, "cpu_bf16": False}
    # CPUs with AVX512-BF16 or AMX run bf16 matmuls natively; elsewhere bf16 is emulated, slower.
    cpu = torch.cpu
    native = any(
        getattr(cpu, probe, lambda: False)()
        for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    )
    return {"bf16": False, "tf32": False, "cpu_bf16": native}


def precision_defaults(
    training: Mapping[str, Any], *, bf16: bool, tf32: bool, cpu_bf16: bool = False
) -> dict[str, Any]:
    """bf16 autocast (and TF32 matmuls) where the hardware runs them natively, unless the config
    says otherwise.

    On an A100/H100, and on CPUs with AVX512-BF16 or AMX, bf16 autocast takes a third or more
    off a fine-tuning step (MiniLM at 256 tokens on a 2-core EPYC: 2.9 s -> 2.1 s per step of
    16) at no cost in accuracy. The search and the final retrain share this, so a best trial is
    replayed at the precision it was scored at. ``training.bf16: false`` (or any
    ``fp16``/``bf16``/``tf32`` setting) opts out. Trainer wants ``use_cpu`` for bf16 on a CPU.
    """
    out: dict[str, Any] = {}
    chosen = "bf16" in training or "fp16" in training
    if bf16 and not chosen:
        out["bf16"] = True
    elif cpu_bf16 and not chosen:
        out |= {"bf16": True, "use_cpu": True}
    elif training.get("bf16") and not bf16 and not torch.cuda.is_available():
        out["use_cpu"] = True  # asked for bf16 on a CPU: say so to Trainer
    if tf32 and "tf32" not in training:
        out["tf32"] = True
    return out


def training_attention(
    requested: str, args: TrainingArguments, packed_dropout: bool = False
) -> str | None:
    """The attention kernel for training steps where it should differ from the one the model
    loaded with (which evaluation keeps); None: the loaded kernel throughout.

    On a CPU, SDPA with attention dropout takes PyTorch's unfused math path and draws its
    dropout mask inside, where :mod:`hpo.dropout` cannot reach it; plain matmul attention
    ("eager") calls ``F.dropout``. Eager/SDPA time of a MiniLM training step of 16 (2-core
    EPYC, torch 2.13): under bf16, 0.84 at 128 tokens and 0.59-0.77 at 512 even with PyTorch's
    masks; in fp32, 0.96 at 128 and 1.06-1.18 at 512 with PyTorch's masks, but 0.85 and 0.96
    against SDPA's best with packed ones. So eager trains under bf16 or packed dropout. Scoring
    has no dropout, and there SDPA's fused kernel wins (eager takes 1.4x its time at 128 tokens,
    2.1x at 512), so evaluation switches back. On GPUs, SDPA's fused kernels handle dropout:
    the default stays. ``model.attn_implementation`` set to a kernel keeps it throughout.
    """
    if requested != "auto":
        return None
    on_cpu = args.use_cpu or not torch.cuda.is_available()
    return "eager" if on_cpu and (args.bf16 or packed_dropout) else None


def training_dropout(requested: str, args: TrainingArguments) -> bool:
    """Whether training steps draw dropout masks with :class:`hpo.dropout.PackedDropout`.

    ``model.dropout_masks: auto`` does on a CPU, where PyTorch draws one random number per
    element on one thread: MiniLM's training step of 16 at 128 tokens went from 0.74 s to
    0.64 s under bf16 and from 1.18 s to 1.04 s in fp32 (eager attention, 2-core EPYC, torch
    2.13). On a GPU, PyTorch's fused dropout stays.
    """
    if requested != "auto":
        return False
    return bool(args.use_cpu) or not torch.cuda.is_available()


def check_training_arguments(config: HpoConfig) -> None:
    """Run ``TrainingArguments``' own checks on the fixed settings, at config load."""
    training_arguments(config, output_dir=config.output_dir / "trials", quiet=True)


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
    ``num_train_epochs`` run (``max_steps`` would squeeze the schedule instead)."""

    def __init__(self, epoch: float) -> None:
        self.epoch = epoch

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if (state.epoch or 0.0) >= self.epoch - 1e-6:
            control.should_training_stop = True


def memory_mb() -> tuple[float, float]:
    """Resident memory now and the process's high-water mark, in MiB (Linux: ru_maxrss in KiB).

    If trials leaked, both would climb trial after trial.
    """
    import resource

    import psutil

    rss = psutil.Process().memory_info().rss / 2**20
    return rss, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@functools.cache
def _libc() -> Any:
    """The C library, where ctypes finds one (None elsewhere)."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


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


class LengthBucketSampler(Sampler[int]):
    """Training batches of reviews of similar length, in a random order.

    Shuffle; cut the shuffle into buckets of ``bucket_batches`` batches; sort each bucket by
    length and cut it into batches; shuffle the batches. Transformers' ``LengthGroupedSampler``
    does the first three steps, but always makes at least four buckets, so a search subset of a
    few hundred reviews still pads a quarter of its tokens at 512, and it keeps each bucket's
    batches in descending length order, so training runs from long reviews to short ones.
    Only the last batch of the epoch may be short, as the DataLoader's batching expects.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        *,
        bucket_batches: int = 50,
        generator: torch.Generator | None = None,
    ) -> None:
        self.lengths = [int(n) for n in lengths]
        self.batch_size = batch_size
        self.bucket_batches = bucket_batches
        self.generator = generator  # None: the global RNG, which Trainer seeds per trial

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self) -> Iterator[int]:
        n = len(self.lengths)
        if n == 0:
            return iter([])
        shuffled = torch.randperm(n, generator=self.generator).tolist()
        size = self.batch_size * self.bucket_batches
        batches: list[list[int]] = []
        for start in range(0, n, size):
            bucket = sorted(shuffled[start : start + size], key=self.lengths.__getitem__)
            step = self.batch_size
            batches += [bucket[i : i + step] for i in range(0, len(bucket), step)]
        short = batches.pop() if len(batches[-1]) < self.batch_size else []
        order = torch.randperm(len(batches), generator=self.generator).tolist()
        return iter([i for b in order for i in batches[b]] + short)


def grid_point(epoch: float, evals_per_epoch: int) -> int:
    """Index of the last evaluation point reached at ``epoch`` (1e-6 absorbs float error)."""
    return math.floor(epoch * evals_per_epoch + 1e-6)


class SurplusTrialError(RuntimeError):
    """A trial started after the study already had ``n_trials`` trials finished or running.

    Workers check the count before they start a trial, but two may pass that check at once;
    the later trial (by number) is failed before it trains, so the total stays exact.
    """


def check_not_surplus(trial: Any, max_trials: int) -> None:
    """Raise :class:`SurplusTrialError` if trials numbered before ``trial`` fill the study."""
    from optuna.trial import TrialState

    counted = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
    before = [
        t for t in trial.study.get_trials(deepcopy=False, states=counted) if t.number < trial.number
    ]
    if len(before) >= max_trials:
        trial.set_user_attr("surplus", True)
        raise SurplusTrialError(
            f"trial {trial.number} is surplus: {len(before)} earlier trials already finished or "
            f"running for n_trials={max_trials}; it was not trained"
        )


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
        max_trials: int | None = None,
        train_attn_implementation: str | None = None,
        packed_dropout: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.evals_per_epoch = evals_per_epoch or 1
        self.max_trials = max_trials
        self.train_attn_implementation = train_attn_implementation
        self.packed_dropout = packed_dropout
        if evals_per_epoch:  # None: no evaluation while training (the final retrain)
            self.add_callback(GridEvaluationCallback(evals_per_epoch))
        self.timer = StepTimer()
        self.add_callback(self.timer)
        self.add_callback(WarmupCheckCallback())
        self._reset_trial_state()

    def _reset_trial_state(self) -> None:
        self.eval_history: list[dict[str, float]] = []
        self.best_objective: float | None = None
        self.tokens_processed = 0
        self.tokens_real = 0

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

    # -- attention kernel ---------------------------------------------------------------------

    def attention_kernels(self) -> tuple[str | None, str | None]:
        """(training, evaluation) attention kernels of the current model."""
        config = getattr(self.model, "config", None)
        loaded = getattr(self.model, LOADED_KERNEL, getattr(config, "_attn_implementation", None))
        return self.train_attn_implementation or loaded, loaded

    def _use_kernel(self, training: bool) -> None:
        # model_init builds a new model per trial, so the kernel it loaded with is kept on the
        # model itself; switching costs a config change, not a reload.
        config = getattr(self.model, "config", None)
        if self.train_attn_implementation is None or config is None:
            return
        if not hasattr(self.model, LOADED_KERNEL):
            setattr(self.model, LOADED_KERNEL, config._attn_implementation)
        train, evaluate = self.attention_kernels()
        wanted = train if training else evaluate
        if config._attn_implementation != wanted:
            self.model.set_attn_implementation(wanted)

    def evaluation_loop(self, *args: Any, **kwargs: Any) -> Any:
        """Evaluate (and predict) with the kernel the model loaded with; see training_attention."""
        self._use_kernel(training=False)
        with sdpa_kernel(SDPA_BACKENDS):
            return super().evaluation_loop(*args, **kwargs)

    # -- counting -----------------------------------------------------------------------------

    def training_step(
        self, model: torch.nn.Module, inputs: dict[str, Any], num_items_in_batch: Any = None
    ) -> torch.Tensor:
        self._use_kernel(training=True)
        ids = inputs.get("input_ids")
        if ids is not None:
            self.tokens_processed += ids.numel()
            mask = inputs.get("attention_mask")
            self.tokens_real += int(mask.sum()) if mask is not None else ids.numel()
        # Forward and backward both run in here; the optimizer step and evaluation do not.
        with (
            sdpa_kernel(SDPA_BACKENDS),
            PackedDropout() if self.packed_dropout else nullcontext(),
        ):
            return super().training_step(model, inputs, num_items_in_batch)

    # -- reporting ----------------------------------------------------------------------------

    def samples_seen(self) -> int:
        """Training samples seen at the current evaluation point (the pruning axis)."""
        point = grid_point(self.state.epoch or 0.0, self.evals_per_epoch)
        n_train = len(self.train_dataset) if self.train_dataset is not None else 0
        return round(point * n_train / self.evals_per_epoch)

    def _report_to_hp_search(self, trial: Any, step: int, metrics: dict[str, float]) -> None:
        value = compute_objective(metrics)
        record = {
            "epoch": round(self.state.epoch or 0.0, 4),
            "samples_seen": self.samples_seen(),
            "accuracy": value,
            "loss": float(metrics.get("eval_loss", float("nan"))),
        }
        self.eval_history.append(record)
        self.best_objective = (
            value if self.best_objective is None else max(self.best_objective, value)
        )
        # What hyperparameter_search returns as the trial's value: the best evaluation so far.
        self.objective = self.best_objective
        if self.hp_search_backend is None or trial is None or not hasattr(trial, "report"):
            return
        import optuna

        if not hasattr(trial, "study"):  # FixedTrial: a replay, nothing to report to
            return
        trial.set_user_attr("evals", self.eval_history)
        trial.report(value, record["samples_seen"])
        # At the last evaluation the trial has paid for all its training: pruning it then saves
        # nothing and would throw a finished result away.
        final = self.state.max_steps > 0 and self.state.global_step >= self.state.max_steps
        if not final and trial.should_prune():
            logger.info(
                "Trial %d pruned at %d samples seen (accuracy %.4f below the pruner's threshold)",
                trial.number,
                record["samples_seen"],
                value,
            )
            trial.set_user_attr("pruned_at_samples", record["samples_seen"])
            self.callback_handler.on_train_end(self.args, self.state, self.control)
            raise optuna.TrialPruned(
                f"accuracy {value:.4f} at {record['samples_seen']} samples seen"
            )

    def train(self, *args: Any, **kwargs: Any) -> Any:
        """Train, then record runtime, throughput and token counts on the Optuna trial."""
        trial = kwargs.get("trial")
        if self.max_trials is not None and hasattr(trial, "study"):
            check_not_surplus(trial, self.max_trials)
        self._reset_trial_state()
        if self.model_init is not None:
            self._release_last_trial()
        start = time.perf_counter()
        output = None
        try:
            output = super().train(*args, **kwargs)
            return output
        finally:
            runtime = time.perf_counter() - start
            if trial is not None and hasattr(trial, "set_user_attr"):
                self._record(trial, runtime, output)

    def _release_last_trial(self) -> None:
        """Let the last trial's model, optimizer and garbage go before the next trial starts.

        Trainer keeps the model and optimizer referenced (itself, its CallbackHandler, and the
        Accelerator it replaces only after ``model_init``), and Accelerate's mixed-precision
        wrapper stores the model's forward on the model, a reference cycle: dropping the
        references and that attribute lets reference counting free both. What a trial leaves
        in young cycles (a pruned trial's traceback holds its training frames) goes with a
        young-generation collection, a few ms where a full one takes 0.3 s per trial. Then
        glibc's ``malloc_trim`` hands freed heap pages back: dynamic padding allocates tensors
        of a new size almost every step, and on a fragmented heap a later batch-32 trial
        pushed the process's high-water mark up by 2.8% to 8.3% (five benchmark runs without
        the trim; both runs with it were flat).
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
        gc.collect(1)
        trim = getattr(_libc(), "malloc_trim", None)
        if trim is not None:
            trim(0)

    def _record(self, trial: Any, runtime: float, output: Any) -> None:
        metrics = output.metrics if output is not None else {}
        timed = self.timer.last
        rss, peak = memory_mb()
        train_kernel, eval_kernel = self.attention_kernels()
        samples = (
            self.state.global_step
            * self.args.train_batch_size
            * self.args.gradient_accumulation_steps
        )
        attrs = {
            "evals": self.eval_history,
            "train_runtime": round(metrics.get("train_runtime", runtime), 3),
            "train_samples_per_second": round(
                metrics.get("train_samples_per_second", samples / runtime if runtime else 0.0), 3
            ),
            "tokens_processed": self.tokens_processed,
            "tokens_real": self.tokens_real,
            "padding_efficiency": round(self.tokens_real / self.tokens_processed, 4)
            if self.tokens_processed
            else None,
            "step_seconds": round(timed["step_seconds"], 3),
            "eval_seconds": round(timed["eval_seconds"], 3),
            "wall_seconds": round(runtime, 3),
            "rss_mb": round(rss, 1),
            "peak_rss_mb": round(peak, 1),
            # The kernels the model ran (model.attn_implementation: auto decides).
            "train_attn_implementation": train_kernel,
            "eval_attn_implementation": eval_kernel,
            "dropout_masks": "packed" if self.packed_dropout else "torch",
        }
        for key, value in attrs.items():
            trial.set_user_attr(key, value)


def build_trainer(
    config: HpoConfig,
    *,
    train_dataset: Dataset,
    eval_dataset: Dataset | None,
    tokenizer: PreTrainedTokenizerBase,
    output_dir: str | Path,
    params: Mapping[str, Any] | None = None,
    quiet: bool = False,
    overrides: Mapping[str, Any] | None = None,
    max_trials: int | None = None,
) -> HpoTrainer:
    """The Trainer used by every search trial and by the final retrain.

    Its ``model_init`` loads ``model.name`` afresh for each trial; training steps run with the
    dropout masks of :func:`training_dropout` and the attention kernel of
    :func:`training_attention`.
    """
    args = training_arguments(
        config, output_dir=output_dir, params=params, quiet=quiet, overrides=overrides
    )
    if eval_dataset is not None and "length" in eval_dataset.column_names:
        # Batches of similar length pad less; the order does not change accuracy.
        with warnings.catch_warnings():
            # datasets passes pyarrow a sort option that pyarrow 25 deprecates; not ours to fix.
            warnings.simplefilter("ignore", FutureWarning)
            eval_dataset = eval_dataset.sort("length")
    packed = training_dropout(config.model.dropout_masks, args)
    trainer = HpoTrainer(
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
        model_init=make_model_init(config.model),
        compute_metrics=compute_metrics,
        evals_per_epoch=config.study.evals_per_epoch if eval_dataset is not None else None,
        max_trials=max_trials,
        train_attn_implementation=training_attention(
            config.model.attn_implementation, args, packed_dropout=packed
        ),
        packed_dropout=packed,
    )
    if quiet:
        # Trainer prints every log dict when its progress bar is off; quiet means quiet.
        trainer.remove_callback(PrinterCallback)
    elif trainer.pop_callback(ProgressCallback) is not None:
        trainer.add_callback(BarOnlyProgressCallback)
    return trainer


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
