"""Measure the machine: what a training step and a scoring pass cost here, per example.

Not a table of guesses: a few real training steps and one scoring batch at each candidate
length, through the same :func:`hpo.train.trainer.build_trainer` every trial uses (its
precision, attention kernel and dropout masks), on synthetic token ids of exactly that length.
GPUs and CPUs go through the same path. The rates are cached by what decides them (model,
device, precision, threads, batch sizes, library versions), so a second plan is instant.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import platform
import statistics
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hpo.data.tokenized import default_cache_dir
from hpo.errors import HpoError
from hpo.plan.constants import GRID, MAX_TIMED_STEPS, MIN_TIMED_STEPS, WARMUP_STEPS
from hpo.plan.rates import MachineRates, monotone, peaks_from_json, peaks_to_json, static_mb
from hpo.runs import write_atomically
from hpo.train.settings import setting

if TYPE_CHECKING:
    from hpo.config.schema import ModelSection, TrainerSetup
    from hpo.config.space import ParamSpec

logger = logging.getLogger(__name__)


def timed_steps(length: int) -> int:
    """Steps timed at ``length`` tokens: about the same number of tokens at every length."""
    return max(MIN_TIMED_STEPS, min(MAX_TIMED_STEPS, round(MAX_TIMED_STEPS * 128 / length)))


_RATES_VERSION = 3


def grid_for(longest: int) -> tuple[int, ...]:
    """The grid lengths needed to cost batches up to ``longest`` tokens (one point above it)."""
    inside = [x for x in GRID if x < longest]
    above = [x for x in GRID if x >= longest]
    return (*inside, above[0] if above else longest)


def train_batch_size(search_space: Mapping[str, ParamSpec], training: Mapping[str, Any]) -> int:
    """The batch size the rates are measured at: the smallest the search can choose (per
    example the slowest), else the training setting, else Trainer's default."""
    return int(setting("per_device_train_batch_size", search_space, training).lowest())


def eval_batch_size(training: Mapping[str, Any]) -> int:
    """The scoring batch size of every evaluation (``per_device_eval_batch_size``)."""
    return int(setting("per_device_eval_batch_size", {}, training).value)


def machine_key(
    model: ModelSection,
    search_space: Mapping[str, ParamSpec],
    training: Mapping[str, Any],
    args: Any,
) -> dict[str, Any]:
    """What decides the rates: model, device, precision, threads, batch sizes, versions."""
    import torch
    import transformers

    if torch.cuda.is_available() and not args.use_cpu:
        device = f"cuda:{torch.cuda.get_device_name(0)}"
    else:
        # The vector units, not only the name: one "AMD EPYC" with AVX-512 and bf16 trains
        # several times faster than another with AVX2 only, and a VM may move between them.
        device = f"cpu:{cpu_name()}:{torch.backends.cpu.get_cpu_capability()}"
    precision = "bf16" if args.bf16 else "fp16" if args.fp16 else "fp32"
    return {
        "v": _RATES_VERSION,
        "model": model.name,
        "revision": model.revision,
        "attn_implementation": model.attn_implementation,
        "dropout_masks": model.dropout_masks,
        "device": device,
        "precision": precision,
        "threads": torch.get_num_threads(),
        "train_batch": train_batch_size(search_space, training),
        "eval_batch": eval_batch_size(training),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows of it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def measure_machine(
    setup: TrainerSetup,
    labels: Sequence[str],
    lengths: Sequence[int],
    *,
    cache_dir: str | None = None,
) -> MachineRates:
    """Rates at ``lengths`` (grid points), measuring only the ones not cached for this machine
    (under ``cache_dir``, ``data.cache_dir``, else the default cache)."""
    from hpo.train.arguments import training_arguments

    args = training_arguments(
        setup.training, setup.search_space, setup.reference, output_dir=tempfile.gettempdir()
    )
    key = machine_key(setup.model, setup.search_space, setup.training, args)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    root = Path(cache_dir) if cache_dir else default_cache_dir()
    path = root / "machine" / f"{digest}.json"
    cached: dict[str, Any] = {}
    if path.exists():
        try:
            cached = json.loads(path.read_text())
        except ValueError:
            logger.warning("Ignoring an unreadable machine measurement %s.", path)
    train = {int(k): float(v) for k, v in cached.get("train", {}).items()}
    evals = {int(k): float(v) for k, v in cached.get("eval", {}).items()}
    load, warmup = cached.get("load_seconds"), cached.get("setup_seconds")
    peaks = peaks_from_json(cached.get("peak_mb"))
    device = {k: cached.get(k) for k in ("device_mb", "static_mb")}
    # A length that ran out of memory is not measured again: it does not fit.
    missing = [
        n
        for n in lengths
        if (n not in train or n not in evals) and not math.isinf(peaks.get(n, 0.0))
    ]
    spent = 0.0  # by this call: a measurement read from the cache costs this job nothing
    if missing or load is None:
        start = time.perf_counter()
        logger.info(
            "Measuring this machine at %s tokens (%s, %s, %d threads; cached afterwards) ...",
            ", ".join(map(str, missing)) or "-",
            key["device"],
            key["precision"],
            key["threads"],
        )
        measured = _measure(setup, labels, missing or [min(lengths)])
        train |= measured["train"]
        evals |= measured["eval"]
        peaks |= measured["peak_mb"]
        device = {k: measured[k] for k in ("device_mb", "static_mb")}
        load = measured["load_seconds"] if load is None else load
        warmup = measured["setup_seconds"] if warmup is None else warmup
        spent = time.perf_counter() - start
        record = {"key": key, "train": train, "eval": evals}
        record |= {"load_seconds": load, "setup_seconds": warmup}
        record |= {"peak_mb": peaks_to_json(peaks)}
        record |= device
        write_atomically(path, json.dumps(record, indent=1) + "\n")
        logger.info("Measured the machine in %.0f s (%s).", spent, path)
    return MachineRates(
        key=key,
        train=monotone(train),
        eval=monotone(evals),
        load_seconds=float(load),
        setup_seconds=float(warmup or 0.0),
        train_batch=key["train_batch"],
        eval_batch=key["eval_batch"],
        measured_seconds=spent,
        peak_mb=peaks,
        device_mb=device["device_mb"],
        static_mb=float(device["static_mb"] or 0.0),
    )


def _measure(setup: TrainerSetup, labels: Sequence[str], lengths: Sequence[int]) -> dict[str, Any]:
    from hpo.train.callbacks import library_bars_off

    # Each measured length loads the model and builds a small dataset; their progress bars say
    # nothing a user needs.
    with library_bars_off():
        return _measure_lengths(setup, labels, lengths)


def _measure_lengths(
    setup: TrainerSetup, labels: Sequence[str], lengths: Sequence[int]
) -> dict[str, Any]:
    import torch

    from hpo.train.inference import predict_logits
    from hpo.train.memory import device_peak_mb, out_of_memory, release_device, reset_device_peak
    from hpo.train.model import load_tokenizer, make_model_init

    tokenizer = load_tokenizer(setup.model)
    start = time.perf_counter()
    parameters = sum(p.numel() for p in make_model_init(setup.model, labels)().parameters())
    load_seconds = time.perf_counter() - start
    cuda = torch.cuda.is_available() and not setup.training.get("use_cpu")
    peaks: dict[int, float] = {}
    batch, eval_batch = (
        train_batch_size(setup.search_space, setup.training),
        eval_batch_size(setup.training),
    )
    train: dict[int, float] = {}
    evals: dict[int, float] = {}
    setups = []
    with tempfile.TemporaryDirectory(prefix="hpo-measure-") as tmp:
        for length in lengths:
            steps_here = WARMUP_STEPS + timed_steps(length)
            rows = synthetic_rows(tokenizer, labels, [length] * (batch * steps_here))
            reset_device_peak()
            try:
                trainer, steps, wall = time_steps(
                    setup,
                    tokenizer,
                    rows,
                    Path(tmp),
                    batch=batch,
                    steps=steps_here,
                    sampling="random",
                )
            except Exception as exc:
                if not (cuda and out_of_memory(exc)):
                    raise
                release_device()
                if not train:  # not even the shortest length fits
                    raise HpoError(
                        f"the model does not fit on this device at {length} tokens and batch "
                        f"{batch}: give per_device_train_batch_size a smaller value (in "
                        "search_space or training)."
                    ) from None
                # Neither this length nor a longer one fits, at the smallest batch searched.
                peaks |= {n: math.inf for n in lengths if n >= length}
                logger.info("  %d tokens: out of memory at batch %d; not planned", length, batch)
                break
            if cuda:
                peaks[length] = device_peak_mb() or 0.0
            timed = steps[WARMUP_STEPS:] if len(steps) > WARMUP_STEPS else steps
            step = float(statistics.median(timed))
            train[length] = step / batch
            # Everything in train() that is not a step at the steady rate: loaders, optimizer
            # creation and the first step's warm-up (the model load is counted apart).
            setups.append(max(0.0, wall - load_seconds - step * len(steps)))
            scoring = synthetic_rows(tokenizer, labels, [length] * (2 * eval_batch))
            predict_logits(trainer, scoring.select(range(eval_batch)))  # warm-up, one batch
            _, _, seconds = predict_logits(trainer, scoring)
            evals[length] = seconds / len(scoring)
            logger.info(
                "  %d tokens: %.1f training / %.1f scoring examples per second",
                length,
                1 / train[length],
                1 / evals[length],
            )
            del trainer
    return {
        "train": train,
        "eval": evals,
        "load_seconds": load_seconds,
        "setup_seconds": statistics.median(setups),
        "peak_mb": peaks,
        "device_mb": torch.cuda.get_device_properties(0).total_memory / 2**20 if cuda else None,
        "static_mb": static_mb(parameters) if cuda else 0.0,
    }


def time_steps(
    setup: TrainerSetup,
    tokenizer: Any,
    rows: Any,
    folder: Path,
    *,
    batch: int,
    steps: int,
    sampling: str,
) -> tuple[Any, np.ndarray, float]:
    """Train ``steps`` steps on ``rows`` in batches of ``batch`` (``sampling`` the order) and
    time each step: the trainer (ready to score), each step's seconds and the whole ``train()``
    call's. The one timing routine of the machine measurement and of its check."""
    from hpo.train.callbacks import StepClock
    from hpo.train.trainer import build_trainer

    trainer = build_trainer(
        setup,
        train_dataset=rows,
        eval_dataset=None,
        tokenizer=tokenizer,
        output_dir=folder,
        quiet=True,
        overrides={
            "max_steps": steps,
            "per_device_train_batch_size": batch,
            "gradient_accumulation_steps": 1,
            "logging_steps": 10**6,
            "report_to": "none",
            "train_sampling_strategy": sampling,
        },
    )
    clock = StepClock()
    trainer.add_callback(clock)
    began = time.perf_counter()
    trainer.train()
    return trainer, np.diff(clock.marks), time.perf_counter() - began


def synthetic_rows(tokenizer: Any, labels: Sequence[str], lengths: Sequence[int]) -> Any:
    """One row per entry of ``lengths``, of that many random (non-special) token ids, labelled
    round-robin: what a step costs depends on the shapes, not on which tokens they hold."""
    from datasets import ClassLabel, Dataset

    rng = np.random.default_rng(len(lengths) * 1000 + max(lengths, default=0))
    special = set(tokenizer.all_special_ids)
    vocab = np.asarray([i for i in range(min(tokenizer.vocab_size, 30_000)) if i not in special])
    ids = [rng.choice(vocab, size=n).tolist() for n in lengths]
    data = {
        "input_ids": ids,
        "attention_mask": [[1] * n for n in lengths],
        "label": [i % max(1, len(labels)) for i in range(len(lengths))],
        "length": list(lengths),
    }
    if "token_type_ids" in tokenizer.model_input_names:
        data["token_type_ids"] = [[0] * n for n in lengths]
    ds = Dataset.from_dict(data)
    return ds.cast_column("label", ClassLabel(names=list(labels)))
