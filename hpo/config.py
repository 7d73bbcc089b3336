"""Typed study config: YAML -> frozen dataclasses, validated at load.

Everything a trial needs is checked here, before any model is loaded, so a typo fails in the
first second rather than in trial 7: unknown keys (with the valid ones listed), wrong types,
empty or inverted ranges, search keys that are not ``TrainingArguments`` fields, Optuna
sampler/pruner arguments. Key names are the ones users already know: ``TrainingArguments`` fields
for training settings and Optuna's ``low/high/log/step/choices`` for the search space.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import math
import os
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

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

#: ``reference.warmup_steps: auto``: the same share of the run that 100 warmup steps were of
#: the setup the reference comes from (batch 16, 3 epochs on IMDb's 25,000 training reviews less
#: a 10% validation split: 3 x ceil(22,500 / 16) = 4,221 steps). 100 steps of a 25-step run
#: would be warmup from start to end.
AUTO_WARMUP = "auto"
REFERENCE_WARMUP_SHARE = 100 / (3 * math.ceil(22_500 / 16))

#: Settings the search owns; a study config may not set them in ``training``.
SEARCH_OWNED_TRAINING_KEYS = frozenset(
    {
        "output_dir",
        "eval_strategy",
        "eval_steps",
        "save_strategy",
        "load_best_model_at_end",
        "metric_for_best_model",
        "greater_is_better",
        "do_train",
        "do_eval",
    }
)

#: Values of ``model.dropout_masks``.
DROPOUT_MASKS = ("auto", "torch")


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


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StudySection:
    """Where the trials live and how Optuna picks and stops them."""

    #: Optuna study name; also names the default SQLite file and the output folder.
    name: str
    #: Optuna storage URL. Default: ``sqlite:///storage/<name>.db`` (relative to the working dir).
    storage: str | None = None
    #: ``maximize`` validation accuracy. Kept explicit so exports and dashboards say it.
    direction: str = "maximize"
    #: Total trials for the study, counted over every run that resumes it (COMPLETE + PRUNED).
    n_trials: int = 20
    #: Optuna sampler: ``type`` is a class in ``optuna.samplers``, the other keys its arguments.
    sampler: dict[str, Any] = field(default_factory=lambda: {"type": "TPESampler", "seed": 42})
    #: Optuna pruner: ``type`` is a class in ``optuna.pruners`` (or ``none``), other keys its args.
    pruner: dict[str, Any] = field(
        default_factory=lambda: {"type": "MedianPruner", "n_startup_trials": 3}
    )
    #: Evaluations per epoch. More than one gives the pruner something to act on mid-epoch.
    evals_per_epoch: int = 1
    #: Enqueue the reference setup (lr 2e-5, batch 16, 3 epochs, wd 0.01, warmup 100) first.
    enqueue_reference: bool = True
    #: Seconds between a running trial's heartbeats in storage.
    heartbeat_interval: int = 10
    #: A RUNNING trial whose last heartbeat is older than this (a killed worker) is marked
    #: FAILED and retried with the same params (Optuna's RetryFailedTrialCallback).
    grace_period: int = 30
    #: How many times such a trial is retried.
    max_retry: int = 3


@dataclass(frozen=True)
class ModelSection:
    """The backbone to fine-tune."""

    #: A hub id, a local folder, or ``packaged:all-MiniLM-L6-v2`` (from the ``offline`` extra).
    name: str
    #: Hub revision (branch, tag or commit) when ``name`` is a hub id.
    revision: str | None = None
    #: Run code from the model repository. Off unless you trust it.
    trust_remote_code: bool = False
    #: Attention kernel: ``auto`` picks the faster one for training and for scoring on this
    #: hardware (see :func:`hpo.training.training_attention`); or ``eager``, ``sdpa``,
    #: ``flash_attention_2``, ... as Transformers' ``attn_implementation``, used throughout.
    attn_implementation: str = "auto"
    #: Dropout masks in training steps: ``auto`` draws them four to a random number on a CPU
    #: (see :mod:`hpo.dropout`) and leaves GPUs to PyTorch's fused dropout; ``torch`` keeps
    #: PyTorch's own everywhere.
    dropout_masks: str = "auto"


@dataclass(frozen=True)
class DataSection:
    """Where the reviews come from and how they are split and tokenized."""

    #: Hub dataset id, used when ``path`` is not set.
    dataset: str | None = "imdb"
    #: Local copy: a folder of parquet/csv/jsonl files (train.*, test.*) or an ``aclImdb`` tree.
    path: str | None = None
    text_column: str = "text"
    label_column: str = "label"
    #: Fraction of train carved out (stratified) as the validation split the search scores on.
    validation_fraction: float = 0.1
    #: Seed of that split and of the subset caps below.
    split_seed: int = 42
    #: Search on a stratified subset of the training split (None = all of it).
    max_train_samples: int | None = None
    #: Score trials on a stratified subset of the validation split (None = all of it).
    max_eval_samples: int | None = None
    #: Truncation length in tokens; batches are padded dynamically, never to this length.
    max_length: int = 512
    #: Drop training reviews whose text also appears in the test split (123 in IMDb), so the
    #: test figure is leak-free. Needs the test split to be present.
    drop_test_overlap: bool = False
    #: Tokenized-dataset cache. Default: ``$XDG_CACHE_HOME/hpo`` (``~/.cache/hpo``).
    cache_dir: str | None = None


@dataclass(frozen=True)
class ParamSpec:
    """One search-space entry, with Optuna's own argument names."""

    #: ``float``, ``int`` or ``categorical``.
    type: str
    low: int | float | None = None
    high: int | float | None = None
    log: bool = False
    step: int | float | None = None
    choices: list[Any] | None = None


@dataclass(frozen=True)
class HpoConfig:
    """A whole study: what to search, on what, and where the trials are stored."""

    study: StudySection
    model: ModelSection
    data: DataSection = field(default_factory=DataSection)
    search_space: dict[str, ParamSpec] = field(default_factory=dict)
    #: Fixed ``TrainingArguments`` fields, shared by every trial and by the final retrain.
    training: dict[str, Any] = field(default_factory=dict)
    #: Values of the reference setup; only the keys in ``search_space`` are enqueued.
    reference: dict[str, Any] = field(default_factory=lambda: dict(REFERENCE_PARAMS))
    #: The file this config came from ("<dict>" when built in code).
    source: str = "<dict>"

    @property
    def storage_url(self) -> str:
        """The Optuna storage URL, with the SQLite default filled in."""
        return self.study.storage or f"sqlite:///storage/{self.study.name}.db"

    @property
    def output_dir(self) -> Path:
        """Where trials and the final stage write (``training.output_dir`` or runs/<study>)."""
        return Path(self.training.get("output_dir", f"runs/{self.study.name}"))

    def to_dict(self, *, absolute: bool = False) -> dict[str, Any]:
        """The resolved config as plain data (YAML/JSON-safe), defaults filled in.

        ``absolute``: the default storage and output folder as absolute paths too (they are
        relative to the current folder), so the result runs the same study from any folder.
        """
        out = dataclasses.asdict(self)
        out.pop("source")
        out["study"]["storage"] = self.storage_url
        if absolute:
            out["study"]["storage"] = _absolute_sqlite_url(self.storage_url, Path.cwd())
            out["training"]["output_dir"] = str(_normalized(self.output_dir.absolute()))
        out["search_space"] = {
            k: {kk: vv for kk, vv in v.items() if vv is not None and not (kk == "log" and not vv)}
            for k, v in out["search_space"].items()
        }
        return out

    def to_yaml(self, *, absolute: bool = False) -> str:
        """The resolved config as YAML, in section order (see :meth:`to_dict`)."""
        return yaml.safe_dump(self.to_dict(absolute=absolute), sort_keys=False)


_SECTIONS: dict[str, type] = {
    "study": StudySection,
    "model": ModelSection,
    "data": DataSection,
}


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


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
            node[name] = _absolute_sqlite_url(value, base)
        elif key == "model.name":
            candidate = base / Path(value).expanduser()
            if candidate.exists() or value.startswith((".", "/", "~")):
                node[name] = str(_normalized(candidate))
        elif key in PATH_KEYS and value:
            node[name] = str(_normalized(base / Path(value).expanduser()))


def _normalized(path: Path) -> Path:
    # normpath folds "a/../b" without following links, as a user reads the path.
    return Path(os.path.normpath(path))


def _absolute_sqlite_url(url: str, base: Path) -> str:
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return url
    file, sep, query = url[len(prefix) :].partition("?")
    if not file or file == ":memory:" or file.startswith("/"):
        return url
    return f"{prefix}{_normalized(base / file)}{sep}{query}"


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

    ``check_training=False`` leaves out :func:`check_training_setup`, which imports
    Transformers and torch.
    """
    known = [f.name for f in dataclasses.fields(HpoConfig) if f.name != "source"]
    _reject_unknown(raw, known, where="", source=source)
    for required in ("study", "model"):
        if raw.get(required) is None:
            raise ConfigError(f"{source}: missing section {required!r}. Add it to the YAML.")

    sections = {
        name: _build_section(cls, raw.get(name) or {}, where=name, source=source)
        for name, cls in _SECTIONS.items()
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
    # Deferred import keeps `hpo.config` importable without the search stack.
    from hpo.space import check_contains, to_distribution

    space: dict[str, ParamSpec] = {}
    for name, entry in space_raw.items():
        where = f"search_space.{name}"
        spec = _build_section(ParamSpec, entry, where=where, source=source)
        to_distribution(spec, where=where, source=source)
        space[name] = spec

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
        check_training_setup(config)
    return config


def check_training_setup(config: HpoConfig) -> None:
    """The checks that need Transformers: search, training and reference keys are
    ``TrainingArguments`` fields (Trainer would skip unknown ones silently), the attention
    kernel exists, and ``TrainingArguments`` accepts the fixed settings (now, not in trial 1).
    """
    source = config.source
    fields = training_argument_fields()
    for section, keys in (
        ("search_space", config.search_space),
        ("training", config.training),
        ("reference", config.reference),
    ):
        for key in keys:
            if key in fields:
                continue
            if section == "search_space":
                raise ConfigError(
                    f"{source}: search_space.{key}: {key!r} is not a TrainingArguments field, "
                    f"so Trainer would silently skip it. {_suggest(key, fields)}"
                )
            raise ConfigError(
                f"{source}: {section}.{key}: not a TrainingArguments field. {_suggest(key, fields)}"
            )
    _check_attention(config.model, source)
    # Let TrainingArguments run its own checks on the fixed settings now, not in trial 1.
    from hpo.training import check_training_arguments

    check_training_arguments(config)


def _check_study(study: StudySection, source: str) -> None:
    if not study.name or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", study.name):
        raise ConfigError(
            f"{source}: study.name: {study.name!r} must be letters, digits, '_', '-' or '.' "
            "(it names files), e.g. imdb-minilm."
        )
    if study.direction != "maximize":
        raise ConfigError(
            f"{source}: study.direction: the objective is validation accuracy, so it must be "
            f"'maximize', got {study.direction!r}."
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
    from hpo.storage import build_pruner, build_sampler

    build_sampler(study.sampler, source=source)
    build_pruner(study.pruner, source=source)


def _check_data(data: DataSection, source: str) -> None:
    if data.path is None and not data.dataset:
        raise ConfigError(
            f"{source}: data: set either data.path (a local copy) or data.dataset "
            "(a hub id such as imdb)."
        )
    if not 0.0 < data.validation_fraction < 1.0:
        raise ConfigError(
            f"{source}: data.validation_fraction must be between 0 and 1 exclusive, but got "
            f"{data.validation_fraction}."
        )
    for key in ("max_train_samples", "max_eval_samples"):
        value = getattr(data, key)
        if value is not None and value < 2:
            raise ConfigError(
                f"{source}: data.{key} must be >= 2 (one per class) or null, got {value}."
            )
    if data.max_length < 8:
        raise ConfigError(f"{source}: data.max_length must be >= 8 tokens, got {data.max_length}.")


def _check_attention(model: ModelSection, source: str) -> None:
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    valid = ["auto", "eager", *ALL_ATTENTION_FUNCTIONS.valid_keys()]
    if model.attn_implementation not in valid:
        raise ConfigError(
            f"{source}: model.attn_implementation: unknown kernel "
            f"{model.attn_implementation!r}. Valid: {', '.join(valid)}."
        )


# --------------------------------------------------------------------------------------------
# Generic typed building
# --------------------------------------------------------------------------------------------


def _reject_unknown(
    raw: Mapping[str, Any], known: Sequence[str], *, where: str, source: str
) -> None:
    for key in raw:
        if key not in known:
            loc = f"{where}.{key}" if where else str(key)
            raise ConfigError(
                f"{source}: {loc}: unknown key. Valid keys{' in ' + where if where else ''}: "
                f"{', '.join(known)}."
            )


def _build_section(cls: type, raw: Any, *, where: str, source: str) -> Any:
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"{source}: {where} must be a mapping, got {type(raw).__name__} ({raw!r})."
        )
    hints = typing.get_type_hints(cls)
    fields = [f for f in dataclasses.fields(cls)]
    _reject_unknown(raw, [f.name for f in fields], where=where, source=source)
    kwargs: dict[str, Any] = {}
    for f in fields:
        if f.name not in raw:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{source}: {where}.{f.name}: required key is missing.")
            continue
        kwargs[f.name] = _coerce(
            raw[f.name], hints[f.name], where=f"{where}.{f.name}", source=source
        )
    return cls(**kwargs)


def _coerce(value: Any, annotation: Any, *, where: str, source: str) -> Any:
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
                return _coerce(value, option, where=where, source=source)
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
        raise ConfigError(
            f"{source}: {where}: expected {name}, got {type(value).__name__} ({value!r})."
        )
    return value


@lru_cache(maxsize=1)
def training_argument_fields() -> frozenset[str]:
    """Names of all ``transformers.TrainingArguments`` fields."""
    from transformers import TrainingArguments

    return frozenset(f.name for f in dataclasses.fields(TrainingArguments) if f.init)


def _suggest(name: str, valid: typing.Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, sorted(valid), n=3)
    return f"Did you mean: {', '.join(close)}?" if close else "Check the spelling."


def check_kwargs(
    func: Any, kwargs: Mapping[str, Any], *, where: str, source: str, owner: str = ""
) -> None:
    """Reject keyword arguments that ``func`` does not take (for sampler/pruner blocks)."""
    params = inspect.signature(func).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    for key in kwargs:
        if key not in params:
            valid = [p for p in params if p != "self"]
            raise ConfigError(
                f"{source}: {where}.{key}: unknown argument of {owner or func.__name__}. "
                f"Valid: {', '.join(valid)}."
            )
