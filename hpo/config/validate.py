"""Plain data (as read from YAML) -> a checked, frozen :class:`~hpo.config.schema.HpoConfig`.

Everything a trial needs that can be checked without Transformers is checked here, so a typo
fails in the first second rather than in trial 7: unknown keys (with the valid ones listed),
wrong types, empty or inverted ranges (Optuna's own distribution checks), sampler and pruner
arguments, the reference setup. The checks that need Transformers (is a search key a
``TrainingArguments`` field?) are :func:`hpo.train.arguments.check_training_setup`, which the
commands that train run after loading.

Messages name the key; :func:`config_from_dict` puts the config's file in front, once.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from hpo.config.budget import parse_budget
from hpo.config.reference import check_reference
from hpo.config.samplers import build_pruner, build_sampler
from hpo.config.schema import (
    DROPOUT_MASKS,
    METRICS,
    SEARCH_OWNED_TRAINING_KEYS,
    SECTIONS,
    SHIP_CHOICES,
    TRUNCATIONS,
    DataSection,
    HpoConfig,
    ParamSpec,
    StudySection,
)
from hpo.config.space import to_distribution
from hpo.errors import ConfigError, config_source


def config_from_dict(raw: Mapping[str, Any], *, source: str = "<dict>") -> HpoConfig:
    """Validate a plain mapping (as read from YAML) and build the frozen :class:`HpoConfig`.

    Every problem is a :class:`ConfigError` that names the key, with ``source`` (the config's
    file) in front.
    """
    with config_source(source):
        return _build(raw, source)


def _build(raw: Mapping[str, Any], source: str) -> HpoConfig:
    known = [f.name for f in dataclasses.fields(HpoConfig) if f.name not in ("source", "explicit")]
    reject_unknown(raw, known, where="")
    for required in ("study", "model"):
        if raw.get(required) is None:
            raise ConfigError(f"missing section {required!r}. Add it to the YAML.")

    sections = {
        name: build_section(cls, raw.get(name) or {}, where=name) for name, cls in SECTIONS.items()
    }
    study: StudySection = sections["study"]
    data: DataSection = sections["data"]
    _check_study(study)
    _check_data(data)
    if sections["model"].dropout_masks not in DROPOUT_MASKS:
        raise ConfigError(
            f"model.dropout_masks: unknown value {sections['model'].dropout_masks!r}. "
            f"Valid: {', '.join(DROPOUT_MASKS)}."
        )
    space = _search_space(raw.get("search_space") or {})
    training = raw.get("training") or {}
    if not isinstance(training, Mapping):
        raise ConfigError(
            "'training' must be a mapping of TrainingArguments fields, "
            f"got {type(training).__name__}."
        )
    training = dict(training)
    for key in training:
        if key in SEARCH_OWNED_TRAINING_KEYS - {"output_dir"}:
            raise ConfigError(
                f"training.{key}: set by hpo itself (evaluation follows "
                "study.evals_per_epoch and trials keep no checkpoints). Remove it."
            )
        if key in space:
            raise ConfigError(
                f"training.{key}: also in search_space. A key is either searched or "
                "fixed; remove one of them."
            )
    reference = check_reference(raw.get("reference"), space, enqueued=study.enqueue_reference)
    return HpoConfig(
        study=study,
        model=sections["model"],
        data=data,
        search_space=space,
        training=training,
        reference=reference,
        source=source,
        explicit=explicit_keys(raw),
    )


def explicit_keys(raw: Mapping[str, Any]) -> frozenset[str]:
    """The dotted keys a plain config sets: ``study.n_trials``, ``search_space.learning_rate``,
    ``training.num_train_epochs``, ``reference`` (a section without keys of its own counts as
    set when it is given at all, as ``reference: {}`` is)."""
    keys: set[str] = set()
    for section, node in raw.items():
        if isinstance(node, Mapping) and node:
            keys |= {f"{section}.{key}" for key in node}
        if node is not None:
            keys.add(section)
    return frozenset(keys)


def _search_space(space_raw: Any) -> dict[str, ParamSpec]:
    if not isinstance(space_raw, Mapping):
        raise ConfigError(
            "'search_space' must be a mapping of TrainingArguments "
            f"field -> {{type, low, high, ...}}, got {type(space_raw).__name__}."
        )
    if not space_raw:
        raise ConfigError(
            "'search_space' is empty. Add at least one hyperparameter, "
            "e.g. learning_rate: {type: float, low: 1.0e-5, high: 5.0e-5, log: true}."
        )
    space: dict[str, ParamSpec] = {}
    for name, entry in space_raw.items():
        where = f"search_space.{name}"
        spec = build_section(ParamSpec, entry, where=where)
        to_distribution(spec, where=where)
        space[name] = spec
    warmup = space.get("warmup_steps")
    # Transformers reads warmup_steps below 1 as a share of the run, 1 and above as steps.
    if warmup and warmup.type == "float" and float(warmup.low or 0) < 1 <= float(warmup.high or 0):
        raise ConfigError(
            f"search_space.warmup_steps: the float range {warmup.low}-"
            f"{warmup.high} mixes a share of the run (values below 1) with steps (1 and "
            "above). Use high below 1 to search a share, e.g. {type: float, low: 0.0, "
            "high: 0.2}, or type: int to search steps."
        )
    return space


def _check_study(study: StudySection) -> None:
    if not study.name or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", study.name):
        raise ConfigError(
            f"study.name: {study.name!r} must be letters, digits, '_', '-' or '.' "
            "(it names files), e.g. imdb-minilm."
        )
    if study.metric not in METRICS:
        raise ConfigError(
            f"study.metric: unknown metric {study.metric!r}. Valid: {', '.join(METRICS)}."
        )
    if study.direction != "maximize":
        raise ConfigError(
            f"study.direction: the objective is validation {METRICS[study.metric]}, "
            f"so it must be 'maximize', got {study.direction!r}."
        )
    if study.ship not in SHIP_CHOICES:
        raise ConfigError(
            f"study.ship: {study.ship!r} is not one of {', '.join(SHIP_CHOICES)} (best: the "
            "model that scores highest on validation; tuned: the tuned transformer)."
        )
    if study.n_trials < 0:
        raise ConfigError(
            f"study.n_trials must be >= 0 (0: no search, `hpo run` trains the strong default), "
            f"got {study.n_trials}."
        )
    if study.workers < 1:
        raise ConfigError(
            f"study.workers must be >= 1 (the trials the plan counts on at once), got "
            f"{study.workers}."
        )
    if study.evals_per_epoch < 1:
        raise ConfigError(f"study.evals_per_epoch must be >= 1, got {study.evals_per_epoch}.")
    if study.heartbeat_interval < 1 or study.grace_period <= study.heartbeat_interval:
        raise ConfigError(
            f"study.grace_period must be greater than study.heartbeat_interval >= 1, "
            f"got heartbeat_interval={study.heartbeat_interval}, "
            f"grace_period={study.grace_period}."
        )
    if study.max_retry < 0:
        raise ConfigError(f"study.max_retry must be >= 0, got {study.max_retry}.")
    if study.budget is not None:
        parse_budget(study.budget)
    build_sampler(study.sampler)
    build_pruner(study.pruner)


def _check_data(data: DataSection) -> None:
    if data.path is None and not data.dataset:
        raise ConfigError(
            "data: set either data.path (a local copy) or data.dataset (a hub id such as imdb)."
        )
    for key in ("validation_fraction", "test_fraction"):
        if not 0.0 < getattr(data, key) < 1.0:
            raise ConfigError(
                f"data.{key} must be between 0 and 1 exclusive, but got {getattr(data, key)}."
            )
    if data.label_names is not None:
        names = data.label_names
        if len(names) < 2 or not all(isinstance(n, str) and n.strip() for n in names):
            raise ConfigError(
                f"data.label_names must be a list of at least 2 non-empty names, by "
                f"label value (e.g. [neg, pos] for 0 and 1), got {names!r}."
            )
        if len(set(names)) != len(names):
            raise ConfigError(f"data.label_names has a name twice: {names!r}.")
    if data.text_pair_column is not None and data.text_pair_column in (
        data.text_column,
        data.label_column,
    ):
        raise ConfigError(
            f"data.text_pair_column {data.text_pair_column!r} is also the text or "
            "label column; name the column that holds the second text."
        )
    for key in ("max_train_samples", "max_eval_samples"):
        value = getattr(data, key)
        if value is not None and value < 2:
            raise ConfigError(f"data.{key} must be >= 2 (one per class) or null, got {value}.")
    _check_truncation(data.truncation, data.head_fraction, pairs=data.text_pair_column is not None)
    if data.max_length < 8:
        raise ConfigError(f"data.max_length must be >= 8 tokens, got {data.max_length}.")


def _check_truncation(truncation: str, head_fraction: float, *, pairs: bool) -> None:
    """The config checks of ``data.truncation`` and ``data.head_fraction``."""
    if truncation not in TRUNCATIONS:
        raise ConfigError(
            f"data.truncation: unknown value {truncation!r}. Valid: {', '.join(TRUNCATIONS)}."
        )
    if not 0.0 < head_fraction < 1.0:
        raise ConfigError(
            f"data.head_fraction must be between 0 and 1 exclusive, got {head_fraction}."
        )
    if pairs and truncation != "head":
        raise ConfigError(
            f"data.truncation: {truncation} applies to single texts; text pairs are "
            "truncated from the longer side. Set data.truncation: head."
        )


def reject_unknown(raw: Mapping[str, Any], known: Sequence[str], *, where: str) -> None:
    """Fail on the first key of ``raw`` that is not in ``known``, listing the valid ones."""
    for key in raw:
        if key not in known:
            loc = f"{where}.{key}" if where else str(key)
            raise ConfigError(
                f"{loc}: unknown key. Valid keys{' in ' + where if where else ''}: "
                f"{', '.join(known)}."
            )


def build_section(cls: type, raw: Any, *, where: str) -> Any:
    """One section's dataclass from a plain mapping: unknown and missing keys rejected, each
    value checked against the field's type (see :func:`_coerce`)."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be a mapping, got {type(raw).__name__} ({raw!r}).")
    hints = typing.get_type_hints(cls)
    fields = [f for f in dataclasses.fields(cls)]
    reject_unknown(raw, [f.name for f in fields], where=where)
    kwargs: dict[str, Any] = {}
    for f in fields:
        if f.name not in raw:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{where}.{f.name}: required key is missing.")
            continue
        kwargs[f.name] = _coerce(raw[f.name], hints[f.name], where=f"{where}.{f.name}")
    return cls(**kwargs)


def _coerce(value: Any, annotation: Any, *, where: str) -> Any:
    """Check ``value`` against a simple annotation; ints are accepted where floats are."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, where=where)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[0]
    expected = origin or annotation
    ok = True
    if expected is Any:
        return value
    if expected is bool:
        ok = isinstance(value, bool)
    elif expected is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif expected is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok:
            value = float(value)
    elif expected is str:
        ok = isinstance(value, str)
    elif expected is dict:
        ok = isinstance(value, dict)
    elif expected is list:
        ok = isinstance(value, list)
    if not ok:
        name = getattr(expected, "__name__", str(expected))
        raise ConfigError(f"{where}: expected {name}, got {type(value).__name__} ({value!r}).")
    return value
