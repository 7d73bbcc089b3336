"""The reference setup, in one place: the setup a search is measured against; the strong
default a budget trains when a search cannot pay (:data:`STRONG_DEFAULT`); and the classical
baseline's settings, tried on validation (:func:`tfidf_grid`).

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

#: The strong default: one setting of the kind published recipes fine-tune encoders of
#: all-MiniLM-L6-v2's size with, fixed before any run and tuned on nothing (issue 34). BERT's
#: recipe (Devlin et al., NAACL 2019, appendix A.3): batch 16 or 32, a learning rate of 5e-5,
#: 3e-5 or 2e-5, 2-4 epochs, weight decay 0.01, linear warmup over the first 10% of steps; the
#: rate is the grid's top, as small students are fine-tuned at the top of it and above (MiniLM,
#: Wang et al., NeurIPS 2020; Turc et al., 2019, "Well-read students learn better"); warmup as
#: a share keeps its meaning at any run length (Mosbach et al., ICLR 2021, on the stability of
#: fine-tuning). A budget with no room for a search trains it (``study.n_trials: 0``, chosen by
#: the planner or set by you); every search enqueues it as its first trial, so the search's best
#: is never a setting the default beat on validation. ``bench/equal_budget.py`` trains it with
#: no search at all, beside ``hpo run``, at the same budget.
STRONG_DEFAULT: dict[str, Any] = {
    "learning_rate": 5e-5,
    "per_device_train_batch_size": 32,
    "weight_decay": 0.01,
    "warmup_steps": 0.1,  # a share of the run's steps (Transformers reads a float below 1 so)
}
#: Epochs of the recipe above, the final stage's plan before any time is left over; the run
#: keeps the epoch that scores best on validation (:mod:`hpo.final.retrain`).
DEFAULT_EPOCHS = 3
#: Validation points an epoch of a final stage that keeps its best point (and one where it
#: stops). Its epochs are planned in :data:`FINAL_EPOCH_STEPS` ths of an epoch, so a budget is not
#: left unspent for want of a whole epoch.
FINAL_EVALS_PER_EPOCH = 2
FINAL_EPOCH_STEPS = 20
#: Search trials are strong-default trials marked with this user attr (``hpo trials`` and the
#: report name them).
DEFAULT_ATTR = "strong_default"
#: Where a no-search final stage's params came from (``metrics.json``'s ``source``).
DEFAULT_SOURCE = "strong default (no search)"
#: How a budgeted final stage's source begins where the strong default's trial was trained
#: because the search's best did not beat it by more than the validation figure's noise.
DEFAULT_KEPT = "strong default (the search's best within noise of it)"

#: The TF-IDF baseline's word n-gram ranges and inverse regularization strengths, each fitted on
#: train and scored on validation (:mod:`hpo.final.classical`): the ranges and the grid of C a
#: practitioner tries first; the planner costs every fit.
TFIDF_NGRAM_RANGES: tuple[tuple[int, int], ...] = ((1, 1), (1, 2))
TFIDF_C_VALUES: tuple[float, ...] = (1.0, 4.0, 16.0, 64.0)
#: Vectorizer settings that are not searched: terms in at least two texts and at most 90% of
#: them (the model fits them, and the profile times its fit with them).
TFIDF_MIN_DF, TFIDF_MAX_DF = 2, 0.9
#: The grid's settings in the order a budget too small for all of them keeps them (the plan
#: drops from the end): the middle strengths before the ends, and at each single words before
#: word pairs, since on the long texts where a budget cuts the grid single words hold a far
#: smaller vocabulary, fitted in a fraction of the time (validation chose pairs on IMDb,
#: CLINC150 and BBC News, single words close behind).
TFIDF_PRIORITY: tuple[tuple[tuple[int, int], float], ...] = (
    ((1, 1), 16.0),
    ((1, 1), 4.0),
    ((1, 2), 16.0),
    ((1, 2), 4.0),
    ((1, 1), 64.0),
    ((1, 2), 64.0),
    ((1, 1), 1.0),
    ((1, 2), 1.0),
)


def tfidf_grid(settings: int | None = None) -> list[tuple[tuple[int, int], float]]:
    """The TF-IDF settings tried: the whole grid, or its first ``settings`` by
    :data:`TFIDF_PRIORITY`; either way in the grid's order (n-gram ranges, then C), whose first
    wins a tie (fewer n-grams, stronger regularization)."""
    grid = [(ngrams, c) for ngrams in TFIDF_NGRAM_RANGES for c in TFIDF_C_VALUES]
    if settings is None or settings >= len(grid):
        return grid
    if settings < 1:
        raise ValueError(f"TF-IDF settings: {settings}, at least 1")
    kept = set(TFIDF_PRIORITY[:settings])
    return [setting for setting in grid if setting in kept]


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
    share: float = REFERENCE_WARMUP_SHARE,
) -> int:
    """``reference.warmup_steps: auto`` in steps for a run on ``n_train`` examples.

    The run's batch size and epochs are the reference's own (the training settings where the
    reference has none; ``epochs`` overrides both); its warmup is the share of it that 100
    steps were of the setup the reference comes from (:data:`REFERENCE_WARMUP_SHARE`), or
    ``share``.
    """
    batch = int(
        reference.get("per_device_train_batch_size") or training["per_device_train_batch_size"]
    )
    batch *= int(training["gradient_accumulation_steps"])
    if epochs is None:
        epochs = float(reference.get("num_train_epochs") or training["num_train_epochs"])
    steps = math.ceil(math.ceil(n_train / batch) * epochs)
    return round(share * steps)


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


def strong_default(space: Mapping[str, ParamSpec], training: Mapping[str, Any]) -> dict[str, Any]:
    """The strong default where there is no search: each key of :data:`STRONG_DEFAULT` but the
    ones ``training`` (the config's own, not Trainer's defaults) fixes and ``space`` does not
    search: those are the user's (a batch that fits their memory, say)."""
    return {k: v for k, v in STRONG_DEFAULT.items() if k in space or k not in training}


def default_params(
    space: Mapping[str, ParamSpec], training: Mapping[str, Any], *, n_train: int, epochs: float
) -> dict[str, Any] | None:
    """The strong default as a search enqueues it: its searched keys, each moved onto its
    entry's grid (a warmup searched in steps gets the same share in steps of a run of
    ``epochs`` on ``n_train`` examples); None when a searched value of it lies outside the
    space (a space of the user's own that leaves the recipe out)."""
    params: dict[str, Any] = {}
    for key, value in STRONG_DEFAULT.items():
        spec = space.get(key)
        if spec is None:
            continue
        if key == "warmup_steps" and not is_warmup_share(spec):
            value = reference_warmup_steps(
                params, training, n_train=n_train, epochs=epochs, share=value
            )
        placed = on_grid(spec, value)
        if spec.choices is None and not math.isclose(placed, value, rel_tol=0.05, abs_tol=1e-9):
            return None
        if spec.choices is not None and placed != value:
            return None
        params[key] = placed
    return params


def final_evaluations(epochs: float) -> int:
    """Validation scorings of a final stage that keeps its best point and trains ``epochs``:
    one at each of its grid points and one where it stops."""
    return math.ceil(epochs * FINAL_EVALS_PER_EPOCH - 1e-9) + 1
