"""A study config file -> plain data -> :class:`~hpo.config.schema.HpoConfig`.

Reads the YAML (numbers as numbers), applies ``--set key=value`` overrides and the CLI's
shortcuts, makes paths absolute (a path in the file against the file's folder, one on the
command line against the current folder), and hands the result to
:func:`hpo.config.validate.config_from_dict`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from hpo.config.schema import absolute_sqlite_url, normalized_path
from hpo.config.validate import config_from_dict
from hpo.errors import ConfigError

if TYPE_CHECKING:
    from hpo.config.schema import HpoConfig


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
        raise ConfigError(
            f"malformed YAML{where}: {problem}. Fix the syntax.", source=source
        ) from None


#: Config keys that hold a filesystem path. In a config file they are relative to that file's
#: folder; on the command line (``--set``, ``--storage``) to the current folder.
PATH_KEYS = ("data.path", "data.cache_dir", "training.output_dir")


#: The config ``hpo run --data DIR`` uses when no config file is given: the packaged MiniLM
#: backbone, a search space of the settings that matter most, and nothing the planner decides.
DEFAULT_CONFIG = Path(__file__).with_name("default_study.yaml")

#: The CLI's named shortcuts and the keys they set.
SHORTCUT_KEYS = {
    "n_trials": "study.n_trials",
    "study_name": "study.name",
    "storage": "study.storage",
    "budget": "study.budget",
    "workers": "study.workers",
    "data": "data.path",
    "model": "model.name",
}


def load_config(path: str | Path | None, overrides: Sequence[str] = (), **cli: Any) -> HpoConfig:
    """Read a YAML study config, apply ``--set key=value`` overrides, validate and return it.

    Paths written in the file resolve against the file's folder, paths given on the command
    line against the current folder (both become absolute); the defaults (``storage/``,
    ``runs/``) stay under the current folder. ``cli`` takes the CLI's named shortcuts
    (:data:`SHORTCUT_KEYS`: ``n_trials``, ``study_name``, ``storage``, ``budget``, ``data``,
    ``model``); ``None`` values are ignored. ``path=None`` reads :data:`DEFAULT_CONFIG`, which
    needs ``data`` (a folder or file of examples); the study is then named after that folder.
    Every problem raises :class:`ConfigError` naming the file and key. The checks that need
    Transformers are :func:`hpo.train.arguments.check_training_setup` (:func:`hpo.load_config`
    runs both).
    """
    if path is None:
        if cli.get("data") is None:
            raise ConfigError(
                "no config file and no data: pass a study YAML, or --data DIR (a folder of "
                "train/validation/test files) to use the default config.",
                source="hpo",
            )
        source = "the default config"
        file = DEFAULT_CONFIG
    else:
        source = str(path)
        file = Path(path).expanduser().absolute()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"config file not found (looked for {file}). Pass the path of a study "
            "YAML, e.g. study_configs/smoke.yaml.",
            source=source,
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read config file {file}: {exc.strerror}.", source=source
        ) from None
    raw = parse_yaml(text, source=source)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(
            "the top level must be a mapping of sections "
            f"(study, model, data, search_space, training), got {type(raw).__name__}.",
            source=source,
        )
    raw = copy.deepcopy(raw)
    resolve_paths(raw, base=file.parent, keys=(*PATH_KEYS, "study.storage", "model.name"))
    if path is None and cli.get("study_name") is None:
        cli = {**cli, "study_name": study_name_for(cli["data"])}
    cwd = Path.cwd()
    for item in overrides:
        key = apply_override(raw, item, source=source)
        resolve_paths(raw, base=cwd, keys=(key,))
    for name, value in cli.items():
        if name not in SHORTCUT_KEYS:
            raise TypeError(f"unknown CLI shortcut {name!r}")
        if value is not None:
            value = str(value) if isinstance(value, Path) else value
            _set_dotted(raw, SHORTCUT_KEYS[name], value, source=source)
            resolve_paths(raw, base=cwd, keys=(SHORTCUT_KEYS[name],))
    return config_from_dict(raw, source=source)


def study_name_for(data: str | Path) -> str:
    """A study name from a data folder's name (``../data/Banking 77/`` -> ``banking-77``)."""
    stem = Path(str(data).rstrip("/")).expanduser().absolute().name
    if "." in stem and Path(str(data)).suffix:  # a file: train.csv names nothing
        stem = Path(stem).stem
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-._").lower()
    return slug or "study"


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
            "expected KEY=VALUE with a dotted key, e.g. --set study.n_trials=3.",
            source=f"--set {item!r}",
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
                f"cannot set {key!r} because {prefix!r} is a "
                f"{type(child).__name__}, not a mapping.",
                source=source,
            )
        node = child
    node[parts[-1]] = value
