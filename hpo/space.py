"""Search space: config entry -> Optuna distribution, and the one map from a trial to params.

Search and final retrain both go through :func:`make_hp_space`, so a best trial is replayed with
exactly the values it was scored with.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from hpo.config import AUTO_WARMUP, REFERENCE_WARMUP_SHARE
from hpo.errors import ConfigError

if TYPE_CHECKING:
    import optuna

    from hpo.config import ParamSpec

PARAM_TYPES = ("float", "int", "categorical")


def to_distribution(
    spec: ParamSpec, *, where: str = "search_space", source: str = "<dict>"
) -> BaseDistribution:
    """Turn one search-space entry into an Optuna distribution, running Optuna's own checks.

    Also rejects what Optuna accepts but a search should not: an empty range (low == high) and
    keys that do not belong to the entry's type.
    """
    if spec.type not in PARAM_TYPES:
        raise ConfigError(
            f"{source}: {where}.type: must be one of {', '.join(PARAM_TYPES)}, got {spec.type!r}."
        )
    if spec.type == "categorical":
        extra = [k for k in ("low", "high", "step") if getattr(spec, k) is not None]
        if extra or spec.log:
            bad = extra or ["log"]
            raise ConfigError(
                f"{source}: {where}.{bad[0]}: not used by a categorical entry; "
                "list the values under 'choices'."
            )
        if not spec.choices:
            raise ConfigError(
                f"{source}: {where}.choices: must be a non-empty list, got "
                f"{spec.choices!r}. List at least two values, or move a single "
                "value into 'training'."
            )
        try:
            return CategoricalDistribution(spec.choices)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{source}: {where}.choices: {exc}") from None
    if spec.choices is not None:
        raise ConfigError(f"{source}: {where}.choices: only for type: categorical.")
    for key in ("low", "high"):
        if getattr(spec, key) is None:
            raise ConfigError(f"{source}: {where}.{key}: required for type: {spec.type}.")
    low, high = spec.low, spec.high
    assert low is not None and high is not None  # narrowed above; for the type checker
    if low >= high:
        raise ConfigError(
            f"{source}: {where}: low must be < high, but got low={low!r}, high={high!r}. "
            + ("Swap them." if low > high else "For a fixed value, move it into 'training'.")
        )
    if spec.log and low <= 0:
        raise ConfigError(f"{source}: {where}: log scale needs low > 0, but got low={low!r}.")
    if spec.log and spec.step is not None:
        raise ConfigError(f"{source}: {where}: step and log cannot be used together.")
    if spec.step is not None and spec.step <= 0:
        raise ConfigError(f"{source}: {where}.step: must be > 0, got {spec.step!r}.")
    try:
        if spec.type == "int":
            for key in ("low", "high", "step"):
                value = getattr(spec, key)
                if value is not None and float(value) != int(value):
                    raise ConfigError(
                        f"{source}: {where}.{key}: must be a whole number for "
                        f"type: int, got {value!r}."
                    )
            return IntDistribution(
                int(low),
                int(high),
                log=spec.log,
                step=int(spec.step) if spec.step is not None else 1,
            )
        return FloatDistribution(
            float(low),
            float(high),
            log=spec.log,
            step=float(spec.step) if spec.step is not None else None,
        )
    except ValueError as exc:
        raise ConfigError(f"{source}: {where}: {exc}") from None


_REFERENCE_HINT = "Widen the range, change 'reference', or set study.enqueue_reference: false."


def check_contains(
    spec: ParamSpec, value: Any, *, where: str, source: str, hint: str = _REFERENCE_HINT
) -> None:
    """Check that a given value (the reference setup, exported params) lies in its space."""
    dist = to_distribution(spec, where=where, source=source)
    if not contains(dist, value):
        raise ConfigError(
            f"{source}: {where}: the value {value!r} is outside the search space ({dist}). " + hint
        )


def contains(dist: BaseDistribution, value: Any) -> bool:
    """Whether ``value`` is one that ``dist`` can suggest: a choice, or a number in range on
    the step grid (an int entry takes whole numbers only)."""
    if isinstance(dist, CategoricalDistribution):
        # True == 1 in Python; a bool is only its own choice.
        return any(
            value == choice and isinstance(value, bool) == isinstance(choice, bool)
            for choice in dist.choices
        )
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(dist, IntDistribution) and float(value) != int(value):
        return False
    low, high = dist.low, dist.high  # type: ignore[attr-defined]
    if not low <= value <= high:
        return False
    step = getattr(dist, "step", None)
    if not step:
        return True
    offset = (value - low) / step
    return abs(offset - round(offset)) < 1e-8


def suggest(trial: optuna.Trial, name: str, dist: BaseDistribution) -> Any:
    """Ask the trial for one parameter through the public ``suggest_*`` API."""
    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
    if isinstance(dist, FloatDistribution):
        return trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)
    raise TypeError(f"unsupported distribution {dist!r}")


def distributions(space: Mapping[str, ParamSpec]) -> dict[str, BaseDistribution]:
    """The Optuna distributions of a validated search space, in config order."""
    return {
        name: to_distribution(spec, where=f"search_space.{name}") for name, spec in space.items()
    }


def make_hp_space(space: Mapping[str, ParamSpec]) -> Callable[[optuna.Trial], dict[str, Any]]:
    """The ``hp_space`` for ``Trainer.hyperparameter_search``: trial -> TrainingArguments values.

    Works with a ``FixedTrial`` too, which is how the final stage replays a best trial.
    """
    dists = distributions(space)

    def hp_space(trial: optuna.Trial) -> dict[str, Any]:
        return {name: suggest(trial, name, dist) for name, dist in dists.items()}

    return hp_space


def reference_params(
    space: Mapping[str, ParamSpec], reference: Mapping[str, Any]
) -> dict[str, Any]:
    """The reference setup restricted to the searched keys (what gets enqueued)."""
    return {k: v for k, v in reference.items() if k in space}


def reference_warmup_steps(
    reference: Mapping[str, Any],
    training: Mapping[str, Any],
    *,
    n_train: int,
    epochs: float | None = None,
) -> int:
    """``reference.warmup_steps: auto`` in steps for a run on ``n_train`` examples.

    The run's batch size and epochs are the reference's own (the training settings where the
    reference has none; ``epochs`` overrides both); its warmup is the share of it that 100
    steps were of the setup the reference comes from (:data:`REFERENCE_WARMUP_SHARE`).
    """
    batch = int(
        reference.get("per_device_train_batch_size")
        or training.get("per_device_train_batch_size", 8)
    )
    batch *= int(training.get("gradient_accumulation_steps", 1))
    if epochs is None:
        epochs = float(reference.get("num_train_epochs") or training.get("num_train_epochs", 3))
    steps = math.ceil(math.ceil(n_train / batch) * epochs)
    return round(REFERENCE_WARMUP_SHARE * steps)


def auto_warmup(
    spec: ParamSpec | None,
    reference: Mapping[str, Any],
    training: Mapping[str, Any],
    *,
    n_train: int,
    epochs: float | None = None,
) -> int | float:
    """``warmup_steps: auto`` for a run on ``n_train`` examples, where the search space's
    warmup entry is ``spec`` (None: warmup is not searched).

    Where the space searches warmup as a share of the run, :data:`REFERENCE_WARMUP_SHARE`
    itself (Transformers reads a float below 1 as a ratio of the steps), which means the same at
    the search's budget and at the final one and stays inside the space's range; otherwise that
    share in steps (:func:`reference_warmup_steps`). The search's enqueued reference and the
    final stage's reference retrain both resolve ``auto`` here, so they cannot disagree.
    """
    if spec is not None and is_warmup_share(spec):
        return REFERENCE_WARMUP_SHARE
    return reference_warmup_steps(reference, training, n_train=n_train, epochs=epochs)


def resolve_reference(
    space: Mapping[str, ParamSpec],
    reference: Mapping[str, Any],
    training: Mapping[str, Any],
    *,
    n_train: int,
) -> dict[str, Any]:
    """The enqueued reference trial: the searched keys of ``reference``, with
    ``warmup_steps: auto`` resolved for a trial on ``n_train`` examples (:func:`auto_warmup`)
    and moved onto the search space's grid (the space itself is not changed)."""
    params = reference_params(space, reference)
    if params.get("warmup_steps") == AUTO_WARMUP:
        # A searched num_train_epochs is the reference's; a fixed one is the training setting.
        epochs = None if "num_train_epochs" in space else training.get("num_train_epochs", 3)
        spec = space["warmup_steps"]
        warmup = auto_warmup(spec, reference, training, n_train=n_train, epochs=epochs)
        params["warmup_steps"] = on_grid(spec, warmup)
    return params


def is_warmup_share(spec: ParamSpec) -> bool:
    """True when a ``warmup_steps`` entry is a float below 1: a share of the run's steps."""
    return spec.type == "float" and spec.high is not None and spec.high < 1


def on_grid(spec: ParamSpec, value: float) -> int | float:
    """``value`` clipped into an entry's range and rounded to its step (a categorical entry:
    the nearest choice)."""
    if spec.choices:
        return min(spec.choices, key=lambda choice: abs(choice - value))
    low, high = spec.low, spec.high
    assert low is not None and high is not None  # a validated int/float entry
    value = min(max(value, low), high)
    if spec.step:
        value = low + round((value - low) / spec.step) * spec.step
    return round(value) if spec.type == "int" else float(value)
