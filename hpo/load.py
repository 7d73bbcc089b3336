"""YAML -> :class:`hpo.config.HpoConfig`, with every check, in one loading step above config.

Everything a trial needs is checked here, before any model is loaded, so a typo fails in the
first second rather than in trial 7: unknown keys (with the valid ones listed), wrong types,
empty or inverted ranges (Optuna's own distribution checks), sampler and pruner arguments, and,
for the commands that train, search keys that are not ``TrainingArguments`` fields and what
``TrainingArguments`` itself refuses (:func:`hpo.training_args.check_training_setup`, which
imports Transformers and torch, so light commands skip it).
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from hpo.config import (
    AUTO_WARMUP,
    DROPOUT_MASKS,
    METRICS,
    REFERENCE_PARAMS,
    SEARCH_OWNED_TRAINING_KEYS,
    SECTIONS,
    DataSection,
    HpoConfig,
    ParamSpec,
    StudySection,
    absolute_sqlite_url,
    build_section,
    normalized_path,
    reject_unknown,
)
from hpo.errors import ConfigError
from hpo.samplers import build_pruner, build_sampler
from hpo.space import check_contains, to_distribution
from hpo.truncation import check as check_truncation


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads ``1e-5`` as a float.

    PyYAML follows YAML 1.1, where a float needs a dot (``1.0e-5``); ``1e-5`` would silently
    become the string "1e-5". Learning rates are written that way by everyone.
    """


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def parse_yaml(text: str, *, source: str) -> Any:
    """Parse YAML with the safe loader; a syntax error becomes one :class:`ConfigError` line."""
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{source}: malformed YAML{where}: {problem}. Fix the syntax.") from None


#: Config keys that hold a filesystem path. In a config file they are relative to that file's
#: folder; on the command line (``--set``, ``--storage``) to the current folder.
PATH_KEYS = ("data.path", "data.cache_dir", "training.output_dir")


def load_config(
    path: str | Path, overrides: Sequence[str] = (), *, check_training: bool = True, **cli: Any
) -> HpoConfig:
    """Read a YAML study config, apply ``--set key=value`` overrides, validate and return it.

    Paths written in the file resolve against the file's folder, paths given on the command
    line against the current folder (both become absolute); the defaults (``storage/``,
    ``runs/``) stay under the current folder. ``cli`` takes the CLI's named shortcuts
    (``n_trials``, ``study_name``, ``storage``); ``None`` values are ignored.
    ``check_training=False`` skips the checks that import Transformers (and torch), for
    commands that only read. Every problem raises :class:`ConfigError` naming the file and key.
    """
    source = str(path)
    file = Path(path).expanduser().absolute()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{source}: config file not found (looked for {file}). Pass the path of a study "
            "YAML, e.g. study_configs/smoke.yaml."
        ) from None
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read config file {file}: {exc.strerror}.") from None
    raw = parse_yaml(text, source=source)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{source}: the top level must be a mapping of sections "
            f"(study, model, data, search_space, training), got {type(raw).__name__}."
        )
    raw = copy.deepcopy(raw)
    resolve_paths(raw, base=file.parent, keys=(*PATH_KEYS, "study.storage", "model.name"))
    cwd = Path.cwd()
    for item in overrides:
        key = apply_override(raw, item, source=source)
        resolve_paths(raw, base=cwd, keys=(key,))
    shortcut_keys = {
        "n_trials": "study.n_trials",
        "study_name": "study.name",
        "storage": "study.storage",
    }
    for name, value in cli.items():
        if name not in shortcut_keys:
            raise TypeError(f"unknown CLI shortcut {name!r}")
        if value is not None:
            _set_dotted(raw, shortcut_keys[name], value, source=source)
            resolve_paths(raw, base=cwd, keys=(shortcut_keys[name],))
    return config_from_dict(raw, source=source, check_training=check_training)


def resolve_paths(raw: dict[str, Any], *, base: Path, keys: Sequence[str]) -> None:
    """Make the path values among ``keys`` absolute against ``base``, in place.

    ``model.name`` becomes a path only where it names an existing folder or is written as a
    path (``./``, ``../``, ``/``, ``~``); anything else stays a hub id or ``packaged:`` name.
    A relative SQLite URL (``sqlite:///storage/x.db``) gets an absolute file path.
    """
    for key in keys:
        section, _, name = key.partition(".")
        node = raw.get(section)
        if not isinstance(node, dict) or not isinstance(node.get(name), str):
            continue
        value = node[name]
        if key == "study.storage":
            node[name] = absolute_sqlite_url(value, base)
        elif key == "model.name":
            candidate = base / Path(value).expanduser()
            if candidate.exists() or value.startswith((".", "/", "~")):
                node[name] = str(normalized_path(candidate))
        elif key in PATH_KEYS and value:
            node[name] = str(normalized_path(base / Path(value).expanduser()))


def apply_override(raw: dict[str, Any], item: str, *, source: str) -> str:
    """Apply one ``a.b.c=value`` override in place; the value is parsed as YAML (``3`` is int).

    Returns the dotted key."""
    key, sep, value_text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(
            f"--set {item!r}: expected KEY=VALUE with a dotted key, e.g. --set study.n_trials=3."
        )
    value = parse_yaml(value_text, source=f"--set {key}") if value_text.strip() else None
    _set_dotted(raw, key, value, source=f"--set {key}")
    return key


def _set_dotted(raw: dict[str, Any], key: str, value: Any, *, source: str) -> None:
    parts = key.split(".")
    node = raw
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            prefix = ".".join(parts[: i + 1])
            raise ConfigError(
                f"{source}: cannot set {key!r} because {prefix!r} is a "
                f"{type(child).__name__}, not a mapping."
            )
        node = child
    node[parts[-1]] = value


def config_from_dict(
    raw: Mapping[str, Any], *, source: str = "<dict>", check_training: bool = True
) -> HpoConfig:
    """Validate a plain mapping (as read from YAML) and build the frozen :class:`HpoConfig`.

    ``check_training=False`` leaves out :func:`hpo.training_args.check_training_setup`, which
    imports Transformers and torch.
    """
    known = [f.name for f in dataclasses.fields(HpoConfig) if f.name != "source"]
    reject_unknown(raw, known, where="", source=source)
    for required in ("study", "model"):
        if raw.get(required) is None:
            raise ConfigError(f"{source}: missing section {required!r}. Add it to the YAML.")

    sections = {
        name: build_section(cls, raw.get(name) or {}, where=name, source=source)
        for name, cls in SECTIONS.items()
    }
    study: StudySection = sections["study"]
    data: DataSection = sections["data"]
    _check_study(study, source)
    _check_data(data, source)
    if sections["model"].dropout_masks not in DROPOUT_MASKS:
        raise ConfigError(
            f"{source}: model.dropout_masks: unknown value {sections['model'].dropout_masks!r}. "
            f"Valid: {', '.join(DROPOUT_MASKS)}."
        )

    space_raw = raw.get("search_space") or {}
    if not isinstance(space_raw, Mapping):
        raise ConfigError(
            f"{source}: 'search_space' must be a mapping of TrainingArguments "
            f"field -> {{type, low, high, ...}}, got {type(space_raw).__name__}."
        )
    if not space_raw:
        raise ConfigError(
            f"{source}: 'search_space' is empty. Add at least one hyperparameter, "
            "e.g. learning_rate: {type: float, low: 1.0e-5, high: 5.0e-5, log: true}."
        )
    space: dict[str, ParamSpec] = {}
    for name, entry in space_raw.items():
        where = f"search_space.{name}"
        spec = build_section(ParamSpec, entry, where=where, source=source)
        to_distribution(spec, where=where, source=source)
        space[name] = spec
    warmup = space.get("warmup_steps")
    # Transformers reads warmup_steps below 1 as a share of the run, 1 and above as steps.
    if warmup and warmup.type == "float" and float(warmup.low or 0) < 1 <= float(warmup.high or 0):
        raise ConfigError(
            f"{source}: search_space.warmup_steps: the float range {warmup.low}-"
            f"{warmup.high} mixes a share of the run (values below 1) with steps (1 and "
            "above). Use high below 1 to search a share, e.g. {type: float, low: 0.0, "
            "high: 0.2}, or type: int to search steps."
        )

    training = raw.get("training") or {}
    if not isinstance(training, Mapping):
        raise ConfigError(
            f"{source}: 'training' must be a mapping of TrainingArguments fields, "
            f"got {type(training).__name__}."
        )
    training = dict(training)
    for key in training:
        if key in SEARCH_OWNED_TRAINING_KEYS - {"output_dir"}:
            raise ConfigError(
                f"{source}: training.{key}: set by hpo itself (evaluation follows "
                "study.evals_per_epoch and trials keep no checkpoints). Remove it."
            )
        if key in space:
            raise ConfigError(
                f"{source}: training.{key}: also in search_space. A key is either searched or "
                "fixed; remove one of them."
            )

    reference = raw.get("reference")
    reference = dict(REFERENCE_PARAMS) if reference is None else reference
    if not isinstance(reference, Mapping):
        raise ConfigError(f"{source}: 'reference' must be a mapping of TrainingArguments fields.")
    reference = dict(reference)
    warmup = reference.get("warmup_steps")
    if isinstance(warmup, str) and warmup != AUTO_WARMUP:
        raise ConfigError(
            f"{source}: reference.warmup_steps: expected a number of steps or {AUTO_WARMUP!r}, "
            f"got {warmup!r}."
        )
    if study.enqueue_reference:
        for key, spec in space.items():
            if key in reference and reference[key] != AUTO_WARMUP:
                check_contains(spec, reference[key], where=f"reference.{key}", source=source)

    config = HpoConfig(
        study=study,
        model=sections["model"],
        data=data,
        search_space=space,
        training=training,
        reference=reference,
        source=source,
    )
    if check_training:
        # Imported here, not at the top: it loads Transformers and torch (seconds), which
        # show-config and trials never need.
        from hpo.training_args import check_training_setup

        check_training_setup(config)
    return config


def _check_study(study: StudySection, source: str) -> None:
    if not study.name or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", study.name):
        raise ConfigError(
            f"{source}: study.name: {study.name!r} must be letters, digits, '_', '-' or '.' "
            "(it names files), e.g. imdb-minilm."
        )
    if study.metric not in METRICS:
        raise ConfigError(
            f"{source}: study.metric: unknown metric {study.metric!r}. Valid: {', '.join(METRICS)}."
        )
    if study.direction != "maximize":
        raise ConfigError(
            f"{source}: study.direction: the objective is validation {METRICS[study.metric]}, "
            f"so it must be 'maximize', got {study.direction!r}."
        )
    if study.n_trials < 1:
        raise ConfigError(f"{source}: study.n_trials must be >= 1, got {study.n_trials}.")
    if study.evals_per_epoch < 1:
        raise ConfigError(
            f"{source}: study.evals_per_epoch must be >= 1, got {study.evals_per_epoch}."
        )
    if study.heartbeat_interval < 1 or study.grace_period <= study.heartbeat_interval:
        raise ConfigError(
            f"{source}: study.grace_period must be greater than study.heartbeat_interval >= 1, "
            f"got heartbeat_interval={study.heartbeat_interval}, "
            f"grace_period={study.grace_period}."
        )
    if study.max_retry < 0:
        raise ConfigError(f"{source}: study.max_retry must be >= 0, got {study.max_retry}.")
    build_sampler(study.sampler, source=source)
    build_pruner(study.pruner, source=source)


def _check_data(data: DataSection, source: str) -> None:
    if data.path is None and not data.dataset:
        raise ConfigError(
            f"{source}: data: set either data.path (a local copy) or data.dataset "
            "(a hub id such as imdb)."
        )
    for key in ("validation_fraction", "test_fraction"):
        if not 0.0 < getattr(data, key) < 1.0:
            raise ConfigError(
                f"{source}: data.{key} must be between 0 and 1 exclusive, but got "
                f"{getattr(data, key)}."
            )
    if data.label_names is not None:
        names = data.label_names
        if len(names) < 2 or not all(isinstance(n, str) and n.strip() for n in names):
            raise ConfigError(
                f"{source}: data.label_names must be a list of at least 2 non-empty names, by "
                f"label value (e.g. [neg, pos] for 0 and 1), got {names!r}."
            )
        if len(set(names)) != len(names):
            raise ConfigError(f"{source}: data.label_names has a name twice: {names!r}.")
    if data.text_pair_column is not None and data.text_pair_column in (
        data.text_column,
        data.label_column,
    ):
        raise ConfigError(
            f"{source}: data.text_pair_column {data.text_pair_column!r} is also the text or "
            "label column; name the column that holds the second text."
        )
    for key in ("max_train_samples", "max_eval_samples"):
        value = getattr(data, key)
        if value is not None and value < 2:
            raise ConfigError(
                f"{source}: data.{key} must be >= 2 (one per class) or null, got {value}."
            )
    check_truncation(data.truncation, data.head_fraction, data.text_pair_column is not None, source)
    if data.max_length < 8:
        raise ConfigError(f"{source}: data.max_length must be >= 8 tokens, got {data.max_length}.")
