"""Search space: config entry -> Optuna distribution, and the one map from a trial to params.

Search and final retrain both go through :func:`make_hp_space`, so a best trial is replayed with
exactly the values it was scored with.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from hpo.errors import ConfigError

if TYPE_CHECKING:
    import optuna


@dataclass(frozen=True)
class ParamSpec:
    """One search-space entry, with Optuna's own argument names."""

    #: ``float``, ``int`` or ``categorical``.
    type: str
    #: Lowest value of a ``float`` or ``int`` entry (inclusive).
    low: int | float | None = None
    #: Highest value of a ``float`` or ``int`` entry (inclusive); must be above ``low``.
    high: int | float | None = None
    #: Sample on a log scale (needs ``low`` > 0; not with ``step``).
    log: bool = False
    #: Grid of a ``float`` or ``int`` entry: only ``low + k * step`` is suggested.
    step: int | float | None = None
    #: The values of a ``categorical`` entry.
    choices: list[Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The entry as plain data, without the keys it leaves unset (as a user writes it)."""
        return {
            key: value
            for key, value in dataclasses.asdict(self).items()
            if value is not None and not (key == "log" and not value)
        }


PARAM_TYPES = ("float", "int", "categorical")


def to_distribution(spec: ParamSpec, *, where: str = "search_space") -> BaseDistribution:
    """Turn one search-space entry into an Optuna distribution, running Optuna's own checks.

    Also rejects what Optuna accepts but a search should not: an empty range (low == high) and
    keys that do not belong to the entry's type.
    """
    if spec.type not in PARAM_TYPES:
        raise ConfigError(
            f"{where}.type: must be one of {', '.join(PARAM_TYPES)}, got {spec.type!r}."
        )
    if spec.type == "categorical":
        extra = [k for k in ("low", "high", "step") if getattr(spec, k) is not None]
        if extra or spec.log:
            bad = extra or ["log"]
            raise ConfigError(
                f"{where}.{bad[0]}: not used by a categorical entry; "
                "list the values under 'choices'."
            )
        if not spec.choices:
            raise ConfigError(
                f"{where}.choices: must be a non-empty list, got "
                f"{spec.choices!r}. List at least two values, or move a single "
                "value into 'training'."
            )
        try:
            return CategoricalDistribution(spec.choices)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{where}.choices: {exc}") from None
    if spec.choices is not None:
        raise ConfigError(f"{where}.choices: only for type: categorical.")
    for key in ("low", "high"):
        if getattr(spec, key) is None:
            raise ConfigError(f"{where}.{key}: required for type: {spec.type}.")
    low, high = spec.low, spec.high
    assert low is not None and high is not None  # narrowed above; for the type checker
    if low >= high:
        raise ConfigError(
            f"{where}: low must be < high, but got low={low!r}, high={high!r}. "
            + ("Swap them." if low > high else "For a fixed value, move it into 'training'.")
        )
    if spec.log and low <= 0:
        raise ConfigError(f"{where}: log scale needs low > 0, but got low={low!r}.")
    if spec.log and spec.step is not None:
        raise ConfigError(f"{where}: step and log cannot be used together.")
    if spec.step is not None and spec.step <= 0:
        raise ConfigError(f"{where}.step: must be > 0, got {spec.step!r}.")
    try:
        if spec.type == "int":
            for key in ("low", "high", "step"):
                value = getattr(spec, key)
                if value is not None and float(value) != int(value):
                    raise ConfigError(
                        f"{where}.{key}: must be a whole number for type: int, got {value!r}."
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
        raise ConfigError(f"{where}: {exc}") from None


def check_contains(spec: ParamSpec, value: Any, *, where: str, hint: str) -> None:
    """Check that a given value (the reference setup, exported params) lies in its space;
    ``hint`` says how to fix it when it does not."""
    dist = to_distribution(spec, where=where)
    if not contains(dist, value):
        raise ConfigError(
            f"{where}: the value {value!r} is outside the search space ({dist}). " + hint
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
