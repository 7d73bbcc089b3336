"""Where a training key's value comes from: searched, fixed by the config, or Trainer's default.

One resolver for every ``TrainingArguments`` key, with Trainer's defaults read from
``TrainingArguments`` itself (never typed out again: 3 epochs, batch 8, seed 42 are
Transformers' to change), so the deadline, the machine measurement, the final stage and the
reference setup all agree on what a study trains with; and an out-of-memory retry's batch,
divided with its gradient accumulation multiplied (:func:`halving_batch`).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from hpo.train.trial_record import BATCH_DIVISOR_ATTR

if TYPE_CHECKING:
    from hpo.config.space import ParamSpec


@functools.cache
def trainer_defaults() -> dict[str, Any]:
    """``TrainingArguments``' own default of every field that has one."""
    from transformers import TrainingArguments

    return {
        f.name: f.default
        for f in dataclasses.fields(TrainingArguments)
        if f.default is not dataclasses.MISSING
    }


def with_defaults(training: Mapping[str, Any]) -> dict[str, Any]:
    """The config's fixed training settings over Trainer's defaults: every key has a value."""
    return {**trainer_defaults(), **training}


@dataclass(frozen=True)
class Setting:
    """One training key of a study: where its value comes from, and the value or the range."""

    key: str
    source: Literal["searched", "fixed", "default"]
    #: The fixed or default value; None when searched.
    value: Any = None
    #: The search-space entry when searched.
    spec: ParamSpec | None = None

    def lowest(self) -> Any:
        """The smallest value a trial can train with (the value itself when not searched)."""
        if self.spec is None:
            return self.value
        return min(self.spec.choices) if self.spec.choices else self.spec.low

    def highest(self) -> Any:
        """The largest value a trial can train with (the value itself when not searched)."""
        if self.spec is None:
            return self.value
        return max(self.spec.choices) if self.spec.choices else self.spec.high


def setting(
    key: str, search_space: Mapping[str, ParamSpec], training: Mapping[str, Any]
) -> Setting:
    """Where ``key`` comes from in a study with this search space and these fixed settings."""
    if key in search_space:
        return Setting(key, "searched", spec=search_space[key])
    if key in training:
        return Setting(key, "fixed", value=training[key])
    defaults = trainer_defaults()
    if key not in defaults:
        raise KeyError(f"{key!r} is no TrainingArguments field with a default")
    return Setting(key, "default", value=defaults[key])


def halving_batch(
    hp_space: Callable[[Any], dict[str, Any]],
    search_space: Mapping[str, ParamSpec],
    training: Mapping[str, Any],
) -> Callable[[Any], dict[str, Any]]:
    """``hp_space`` that, for an out-of-memory retry (a trial with
    :data:`~hpo.train.trial_record.BATCH_DIVISOR_ATTR`, in the search or replayed by the final
    stage), divides the per-device batch and multiplies the gradient accumulation by it. The
    trial's params stay as suggested: the retry trains the same point."""

    def hp_space_halving(trial: Any) -> dict[str, Any]:
        values = hp_space(trial)
        divisor = int(getattr(trial, "user_attrs", {}).get(BATCH_DIVISOR_ATTR) or 1)
        if divisor <= 1:
            return values
        batch = values.get("per_device_train_batch_size")
        if batch is None:
            batch = setting("per_device_train_batch_size", search_space, training).value
        steps = values.get("gradient_accumulation_steps")
        if steps is None:
            steps = setting("gradient_accumulation_steps", search_space, training).value
        return values | {
            "per_device_train_batch_size": max(1, int(batch) // divisor),
            "gradient_accumulation_steps": int(steps) * divisor,
        }

    return hp_space_halving
