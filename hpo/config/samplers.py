"""Optuna samplers and pruners from a config block: ``{type: TPESampler, seed: 42, ...}``.

It imports Optuna and :mod:`hpo.errors` only: the config checks build each block once at load,
and the search builds them again for the study.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import optuna

from hpo.errors import ConfigError


def build_sampler(spec: Mapping[str, Any]) -> optuna.samplers.BaseSampler:
    """``{type: TPESampler, seed: 42, ...}`` -> an Optuna sampler (its own checks run)."""
    return _build_from(optuna.samplers, spec, where="study.sampler")


def build_pruner(spec: Mapping[str, Any]) -> optuna.pruners.BasePruner:
    """``{type: MedianPruner, ...}`` -> an Optuna pruner; ``type: none`` -> ``NopPruner``."""
    spec = dict(spec)
    if str(spec.get("type", "")).lower() in ("none", "nop", "nopruner"):
        spec["type"] = "NopPruner"
    return _build_from(optuna.pruners, spec, where="study.pruner")


def _build_from(module: Any, spec: Mapping[str, Any], *, where: str) -> Any:
    kwargs = dict(spec)
    name = kwargs.pop("type", None)
    valid = sorted(n for n in getattr(module, "__all__", []) if not n.startswith("Base"))
    cls = getattr(module, str(name), None) if name else None
    if not isinstance(cls, type):
        raise ConfigError(
            f"{where}.type: {name!r} is not in {module.__name__}. Valid: {', '.join(valid)}."
        )
    check_kwargs(cls.__init__, kwargs, where=where, owner=cls.__name__)
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def check_kwargs(func: Any, kwargs: Mapping[str, Any], *, where: str, owner: str = "") -> None:
    """Reject keyword arguments that ``func`` does not take (for sampler/pruner blocks)."""
    params = inspect.signature(func).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    for key in kwargs:
        if key not in params:
            valid = [p for p in params if p != "self"]
            raise ConfigError(
                f"{where}.{key}: unknown argument of {owner or func.__name__}. "
                f"Valid: {', '.join(valid)}."
            )
