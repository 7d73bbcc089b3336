"""TrainingArguments from a study config: the one road from a config (and a trial's params)
to the arguments Trainer runs with, and the checks that need Transformers to run them.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from transformers import TrainingArguments
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

from hpo.config.reference import AUTO_WARMUP
from hpo.errors import ConfigError
from hpo.runs import RunLayout
from hpo.train.tracking import split_report_to

if TYPE_CHECKING:
    from hpo.config.schema import ModelSection, ParamSpec, TrainerSetup


def _placeholder(spec: ParamSpec, reference: Any) -> Any:
    """A value of the right type for a searched key before the trial sets it: the reference
    setup's value of the key (None: it has none), else the entry's first value.

    Trainer casts each trial value to ``type(current value)``; ``warmup_steps`` defaults to the
    int 0, so a float ratio of 0.06 would silently become 0 without a float placeholder.
    """
    if reference is not None and reference != AUTO_WARMUP:
        value = reference
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
    training: Mapping[str, Any],
    search_space: Mapping[str, ParamSpec],
    reference: Mapping[str, Any],
    *,
    output_dir: str | Path,
    quiet: bool = False,
    overrides: Mapping[str, Any] | None = None,
) -> TrainingArguments:
    """TrainingArguments with a placeholder for each searched key, which the trial (or the
    replay of one, :func:`hpo.train.trainer.replay`) sets through ``hp_space``.

    Evaluation is driven by :class:`GridEvaluationCallback` and trials write no checkpoints: the
    trial's value is its best evaluation, which is what ``load_best_model_at_end`` would keep.
    """
    kwargs: dict[str, Any] = {"report_to": "none"}
    kwargs |= dict(training)
    # The trackers hpo logs to itself (hpo.train.tracking) are not Trainer's to drive.
    kwargs["report_to"] = split_report_to(kwargs["report_to"])[1] or "none"
    for key, spec in search_space.items():
        kwargs[key] = _placeholder(spec, reference.get(key))
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
        raise ConfigError(f"training: {str(exc).splitlines()[0]}") from None


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

    On GPUs with bf16, and on CPUs with AVX512-BF16 or AMX, bf16 autocast makes a fine-tuning
    step much faster (docs, *How a search works*) at no cost in accuracy. The search and the final
    retrain share this, so a best trial is
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


def check_training_setup(setup: TrainerSetup) -> None:
    """The checks that need Transformers: search, training and reference keys are
    ``TrainingArguments`` fields (Trainer would skip unknown ones silently), the attention
    kernel exists, and ``TrainingArguments`` accepts the fixed settings (now, not in trial 1).
    """
    fields = training_argument_fields()
    for section, keys in (
        ("search_space", setup.search_space),
        ("training", setup.training),
        ("reference", setup.reference),
    ):
        for key in keys:
            if key in fields:
                continue
            if section == "search_space":
                raise ConfigError(
                    f"search_space.{key}: {key!r} is not a TrainingArguments field, "
                    f"so Trainer would silently skip it. {_suggest(key, fields)}"
                )
            raise ConfigError(
                f"{section}.{key}: not a TrainingArguments field. {_suggest(key, fields)}"
            )
    _check_attention(setup.model)
    # Let TrainingArguments run its own checks on the fixed settings now, not in trial 1.
    training_arguments(
        setup.training,
        setup.search_space,
        setup.reference,
        output_dir=RunLayout(setup.output_dir).trials,
        quiet=True,
    )


def _check_attention(model: ModelSection) -> None:
    valid = ["auto", "eager", *ALL_ATTENTION_FUNCTIONS.valid_keys()]
    if model.attn_implementation not in valid:
        raise ConfigError(
            f"model.attn_implementation: unknown kernel "
            f"{model.attn_implementation!r}. Valid: {', '.join(valid)}."
        )


@lru_cache(maxsize=1)
def training_argument_fields() -> frozenset[str]:
    """Names of all ``transformers.TrainingArguments`` fields."""
    return frozenset(f.name for f in dataclasses.fields(TrainingArguments) if f.init)


def _suggest(name: str, valid: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(valid), n=3)
    return f"Did you mean: {', '.join(close)}?" if close else "Check the spelling."
