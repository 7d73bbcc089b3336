"""The reference setup, in one place: the setup a search is measured against; and the
classical baseline's settings, tried on validation (:data:`TFIDF_NGRAM_RANGES`,
:data:`TFIDF_C_VALUES`).

A new study enqueues it as trial 0 (its searched keys, :func:`resolve_reference`); ``hpo run``
retrains it for the tuned model's epoch budget (:func:`retrain_params`), so the report says
what tuning was worth on the same test examples. ``warmup_steps: auto`` is the same share of
the run in both (:func:`auto_warmup`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from hpo.config.space import ParamSpec, check_contains
from hpo.errors import ConfigError

#: The setup the project started from. Enqueued as trial 0 of every new study so the search is
#: always measured against it (only the keys that are searched are enqueued).
REFERENCE_PARAMS: dict[str, Any] = {
    "learning_rate": 2e-5,
    "per_device_train_batch_size": 16,
    "num_train_epochs": 3,
    "weight_decay": 0.01,
    "warmup_steps": "auto",
}

#: The TF-IDF baseline's word n-gram ranges and inverse regularization strengths, each fitted on
#: train and scored on validation (:mod:`hpo.final.classical`): the ranges and the grid of C a
#: practitioner tries first; the planner costs every fit.
TFIDF_NGRAM_RANGES: tuple[tuple[int, int], ...] = ((1, 1), (1, 2))
TFIDF_C_VALUES: tuple[float, ...] = (1.0, 4.0, 16.0, 64.0)

#: ``reference.warmup_steps: auto``: the same share of the run that 100 warmup steps were of
#: the setup the reference comes from (batch 16, 3 epochs on IMDb's 25,000 training reviews less
#: a 10% validation split: 3 x ceil(22,500 / 16) = 4,221 steps). 100 steps of a 25-step run
#: would be warmup from start to end.
AUTO_WARMUP = "auto"
REFERENCE_WARMUP_SHARE = 100 / (3 * math.ceil(22_500 / 16))

_OUTSIDE_HINT = "Widen the range, change 'reference', or set study.enqueue_reference: false."


def check_reference(raw: Any, space: Mapping[str, ParamSpec], *, enqueued: bool) -> dict[str, Any]:
    """The ``reference`` section checked (the default when it is absent): a mapping, a
    ``warmup_steps`` that is steps or ``auto``, and, when it is ``enqueued`` as trial 0, every
    searched value inside its search-space entry."""
    reference = dict(REFERENCE_PARAMS) if raw is None else raw
    if not isinstance(reference, Mapping):
        raise ConfigError("'reference' must be a mapping of TrainingArguments fields.")
    reference = dict(reference)
    warmup = reference.get("warmup_steps")
    if isinstance(warmup, str) and warmup != AUTO_WARMUP:
        raise ConfigError(
            f"reference.warmup_steps: expected a number of steps or {AUTO_WARMUP!r}, "
            f"got {warmup!r}."
        )
    if enqueued:
        for key, spec in space.items():
            if key in reference and reference[key] != AUTO_WARMUP:
                check_contains(spec, reference[key], where=f"reference.{key}", hint=_OUTSIDE_HINT)
    return reference


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
        reference.get("per_device_train_batch_size") or training["per_device_train_batch_size"]
    )
    batch *= int(training["gradient_accumulation_steps"])
    if epochs is None:
        epochs = float(reference.get("num_train_epochs") or training["num_train_epochs"])
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
        epochs = None if "num_train_epochs" in space else training["num_train_epochs"]
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


def retrain_params(
    reference: Mapping[str, Any], space: Mapping[str, ParamSpec], *, epochs: float
) -> dict[str, Any]:
    """The reference setup as the final stage retrains it, for ``epochs`` (the tuned run's
    epoch budget, rounded up to whole epochs for its schedule).

    Its searched keys come first; the reference values of keys that are not searched are used
    too, since they define the reference. ``warmup_steps: auto`` stays, and is resolved when the
    training split's size is known (:func:`resolve_auto_warmup`).
    """
    params = dict(reference)
    params["num_train_epochs"] = max(1, math.ceil(epochs))
    known = reference_params(space, params)
    return {**known, **{k: v for k, v in params.items() if k not in known}}


def resolve_auto_warmup(
    params: Mapping[str, Any],
    space: Mapping[str, ParamSpec],
    training: Mapping[str, Any],
    *,
    n_train: int,
) -> dict[str, Any]:
    """``params`` as training gets them: ``warmup_steps: auto`` resolved for a run on
    ``n_train`` examples as the search resolved it (:func:`auto_warmup`)."""
    out = dict(params)
    if out.get("warmup_steps") == AUTO_WARMUP:
        spec = space.get("warmup_steps")
        out["warmup_steps"] = auto_warmup(spec, out, training, n_train=n_train)
    return out
