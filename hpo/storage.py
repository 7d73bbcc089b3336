"""Storage URL -> Optuna storage; open, resume and load studies.

Trials live in Optuna's RDB storage (SQLAlchemy): SQLite under ``storage/`` by default, or any
URL Optuna accepts (PostgreSQL for many workers). A study that already exists is resumed only if
it was made with the same search space; anything else would mix incomparable trials.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna

from hpo.errors import ConfigError, StorageError

if TYPE_CHECKING:
    from hpo.config import HpoConfig

logger = logging.getLogger(__name__)

#: Seconds a SQLite connection waits for a lock before "database is locked" (dashboard + search).
SQLITE_TIMEOUT_S = 60


def build_sampler(
    spec: Mapping[str, Any], *, source: str = "<dict>"
) -> optuna.samplers.BaseSampler:
    """``{type: TPESampler, seed: 42, ...}`` -> an Optuna sampler (its own checks run)."""
    return _build_from(optuna.samplers, spec, where="study.sampler", source=source)


def build_pruner(spec: Mapping[str, Any], *, source: str = "<dict>") -> optuna.pruners.BasePruner:
    """``{type: MedianPruner, ...}`` -> an Optuna pruner; ``type: none`` -> ``NopPruner``."""
    spec = dict(spec)
    if str(spec.get("type", "")).lower() in ("none", "nop", "nopruner"):
        spec["type"] = "NopPruner"
    return _build_from(optuna.pruners, spec, where="study.pruner", source=source)


def _build_from(module: Any, spec: Mapping[str, Any], *, where: str, source: str) -> Any:
    from hpo.config import check_kwargs

    kwargs = dict(spec)
    name = kwargs.pop("type", None)
    valid = sorted(n for n in getattr(module, "__all__", []) if not n.startswith("Base"))
    cls = getattr(module, str(name), None) if name else None
    if not isinstance(cls, type):
        raise ConfigError(
            f"{source}: {where}.type: {name!r} is not in {module.__name__}. "
            f"Valid: {', '.join(valid)}."
        )
    check_kwargs(cls.__init__, kwargs, where=where, source=source, owner=cls.__name__)
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{source}: {where}: {exc}") from None


def make_storage(url: str) -> optuna.storages.BaseStorage:
    """Open the Optuna storage at ``url``, creating the SQLite folder if needed."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StorageError(
            f"study.storage: malformed storage URL {url!r}. Use e.g. sqlite:///storage/NAME.db "
            "or postgresql://user:pass@host/db."
        ) from None
    engine_kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if not db or db == ":memory:":
            raise StorageError(
                f"study.storage: {url!r} is not a file; an in-memory SQLite study "
                "cannot be resumed. Use sqlite:///storage/NAME.db."
            )
        folder = Path(db).resolve().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                f"study.storage: cannot create folder {folder} ({exc.strerror}). "
                "Choose a writable location."
            ) from None
        if not os.access(folder, os.W_OK) or (Path(db).exists() and not os.access(db, os.W_OK)):
            raise StorageError(
                f"study.storage: {db} is not writable. Fix its permissions or "
                "choose another --storage."
            )
        # A dashboard reading while the search writes must wait, not fail, on the file lock.
        engine_kwargs["connect_args"] = {"timeout": SQLITE_TIMEOUT_S}
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
    except (ImportError, ModuleNotFoundError) as exc:
        raise StorageError(
            f"study.storage: the driver for {parsed.drivername!r} is not "
            f"installed ({exc}). Install it, e.g. pip install psycopg2-binary."
        ) from None
    except Exception as exc:  # SQLAlchemy raises many kinds; all mean "cannot open".
        raise StorageError(
            f"study.storage: cannot open {url!r}: {str(exc).splitlines()[0]}"
        ) from None


def space_signature(config: HpoConfig) -> str:
    """A stable JSON text of the search space, stored with the study to detect a changed one."""
    return json.dumps(config.to_dict()["search_space"], sort_keys=True)


def open_study(
    config: HpoConfig, *, storage: optuna.storages.BaseStorage | None = None
) -> optuna.Study:
    """Create the study, or resume it if it exists with the same search space.

    The resolved config is stored as study user attrs so the dashboard and exports show it.
    """
    storage = storage or make_storage(config.storage_url)
    name = config.study.name
    existing = {
        s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)
    }
    if name in existing:
        study = optuna.load_study(
            study_name=name,
            storage=storage,
            sampler=build_sampler(config.study.sampler),
            pruner=build_pruner(config.study.pruner),
        )
        stored = study.user_attrs.get("search_space")
        if stored is not None and stored != space_signature(config):
            raise StorageError(
                f"study.name: study {name!r} in {config.storage_url} was created with a "
                f"different search space ({stored}). Use a new --study-name, or restore the "
                "original search_space."
            )
        return study
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        direction=config.study.direction,
        sampler=build_sampler(config.study.sampler),
        pruner=build_pruner(config.study.pruner),
    )
    study.set_user_attr("search_space", space_signature(config))
    study.set_user_attr("config", config.to_dict())
    return study


def load_existing_study(config: HpoConfig) -> optuna.Study:
    """Load a study that must already exist (for ``hpo trials`` and the final stage)."""
    storage = make_storage(config.storage_url)
    try:
        return optuna.load_study(study_name=config.study.name, storage=storage)
    except KeyError:
        raise StorageError(
            f"study.name: no study {config.study.name!r} in {config.storage_url}. "
            f"Run `hpo search {config.source}` first, or pass --study-name/--storage."
        ) from None


def finished_trials(study: optuna.Study) -> int:
    """Trials that count toward ``n_trials``: COMPLETE and PRUNED (FAILED ones are retried)."""
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return len(study.get_trials(deepcopy=False, states=states))
