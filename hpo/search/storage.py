"""Storage URL -> Optuna storage; open, resume and load studies.

Trials live in Optuna's RDB storage (SQLAlchemy): SQLite under ``storage/`` by default, or any
URL Optuna accepts (PostgreSQL for many workers). A study that already exists is resumed only if
it was made with the same search space; anything else would mix incomparable trials.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import random
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna

from hpo.config.samplers import build_pruner, build_sampler
from hpo.errors import StorageError
from hpo.search.resilient import ResilientStorage, stale_trial_callback

if TYPE_CHECKING:
    from hpo.config.schema import ParamSpec, StudySection, StudySetup

logger = logging.getLogger(__name__)

#: Requeues a trial failed for a stale heartbeat (renamed in Optuna 4.9; the old name warns).
_RETRY_CALLBACK = getattr(
    optuna.storages, "RetryHeartbeatStaleTrialCallback", optuna.storages.RetryFailedTrialCallback
)

_RETRY_ARG = (
    "heartbeat_stale_trial_callback"
    if "heartbeat_stale_trial_callback"
    in inspect.signature(optuna.storages.RDBStorage.__init__).parameters
    else "failed_trial_callback"
)

#: Connections of one process to a database server: the main thread and the heartbeat thread
#: hold one each while a trial runs, and one more may open for a moment; each is checked
#: before use, so one the server dropped (a restart, a cut) is replaced rather than failing a
#: call. N workers hold at most 3 N connections (docs/guides/workers.md, "Connections").
SERVER_POOL: dict[str, Any] = {"pool_size": 2, "max_overflow": 1, "pool_pre_ping": True}

#: libpq settings: without them a call to a server behind a cut network waits for the kernel's
#: TCP retransmissions (many minutes) instead of failing in seconds and being retried.
POSTGRES_CONNECT: dict[str, Any] = {
    "connect_timeout": 10,
    "tcp_user_timeout": 10_000,  # ms unacknowledged before the connection counts as broken
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}

#: Seconds a SQLite connection waits for a lock before "database is locked" (dashboard + search).
SQLITE_TIMEOUT_S = 60


def make_storage(
    url: str, *, study: StudySection | None = None, create: bool = True
) -> optuna.storages.RDBStorage:
    """Open the Optuna storage at ``url``, creating the SQLite folder if needed.

    With ``study`` (a search or a worker), running trials send heartbeats, and a trial whose
    worker died (no heartbeat for ``grace_period`` s) is failed and retried with its params.
    SQLite is switched to WAL so a dashboard can read while trials write, and several worker
    processes can write in turn; each waits up to 60 s for the lock instead of failing.
    ``create=False`` (commands that only read) opens an existing SQLite file as it is and
    creates no file or folder; a missing file is a :class:`StorageError`.
    """
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
        # A dashboard reading while the search writes must wait, not fail, on the file lock.
        engine_kwargs["connect_args"] = {"timeout": SQLITE_TIMEOUT_S}
        if create:
            _prepare_sqlite_file(db)
        elif not Path(db).is_file():
            raise MissingDatabaseError(Path(db))
    else:
        engine_kwargs.update(SERVER_POOL)
        if parsed.get_backend_name() == "postgresql":
            engine_kwargs["connect_args"] = dict(POSTGRES_CONNECT)
    heartbeat: dict[str, Any] = {}
    if study is not None:
        heartbeat = {
            "heartbeat_interval": study.heartbeat_interval,
            "grace_period": study.grace_period,
            "patience_s": study.grace_period,
        }
    try:
        with warnings.catch_warnings():
            # Heartbeats are marked experimental since Optuna 2.9; they are what we rely on.
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            if study is not None:
                heartbeat[_RETRY_ARG] = stale_trial_callback(
                    _RETRY_CALLBACK(max_retry=study.max_retry), study.grace_period
                )
            return _create_rdb_storage(url, engine_kwargs, heartbeat)
    except (ImportError, ModuleNotFoundError) as exc:
        raise StorageError(
            f"study.storage: the driver for {parsed.drivername!r} is not "
            f"installed ({exc}). Install it, e.g. pip install -e '.[postgres]'."
        ) from None
    except Exception as exc:  # SQLAlchemy raises many kinds; all mean "cannot open".
        raise StorageError(
            f"study.storage: cannot open {url!r}: {str(exc).splitlines()[0]}"
        ) from None


def _prepare_sqlite_file(db: str) -> None:
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
            f"study.storage: {Path(db).resolve()} is not writable. Fix its permissions or "
            "choose another --storage."
        )
    _enable_wal(db)


class MissingDatabaseError(StorageError):
    """A command that only reads was pointed at a SQLite file that does not exist."""

    def __init__(self, db: Path, study_name: str | None = None) -> None:
        folder = db.resolve().parent
        others = sorted(p.name for p in folder.glob("*.db")) if folder.is_dir() else []
        nearby = f"; databases in {folder}: {', '.join(others)}" if others else ""
        what = f"no study {study_name!r}" if study_name else "no study"
        super().__init__(
            f"study.storage: {what}: {db.resolve()} does not exist{nearby}. Run "
            "`hpo search CONFIG` first, or pass the --storage (and --study-name) of an existing "
            "study."
        )
        self.db = db


def _create_rdb_storage(
    url: str, engine_kwargs: dict[str, Any], extra: dict[str, Any]
) -> optuna.storages.RDBStorage:
    from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

    # Processes opening a new database together (workers, or a dashboard and a search) all
    # create Optuna's tables and its schema-version row at once; the losers get "duplicate
    # key" (PostgreSQL, raw or wrapped in Optuna's StorageInternalError by its session) or
    # "table ... already exists" (SQLite). The tables exist by then: try again.
    # A search or a worker must outlive a lost database.
    kind = ResilientStorage if "patience_s" in extra else optuna.storages.RDBStorage
    for attempt in range(8):
        # Made apart from its __init__ so a failed attempt's engine can be closed: its pool
        # would hold connections open until the garbage collector found it, past the
        # 3 per worker the server is sized for (docs/guides/workers.md, "Connections").
        storage = kind.__new__(kind)
        try:
            storage.__init__(url, engine_kwargs=engine_kwargs, **extra)
            return storage
        except (
            IntegrityError,
            ProgrammingError,
            OperationalError,
            optuna.exceptions.StorageInternalError,
        ) as exc:
            wrapped = isinstance(exc, optuna.exceptions.StorageInternalError)
            cause = exc.__cause__ if wrapped else exc
            racing = isinstance(cause, IntegrityError | ProgrammingError) or (
                isinstance(cause, OperationalError) and "already exists" in str(cause)
            )
            engine = getattr(storage, "engine", None)  # set first by RDBStorage.__init__
            if engine is not None:
                engine.dispose()
            if attempt == 7 or not racing:
                raise
            time.sleep(0.25 * (attempt + 1) + random.random() / 4)  # apart, not in lockstep
    raise AssertionError("unreachable")


def _enable_wal(db: str) -> None:
    # WAL is a property of the database file: set once, every later connection uses it.
    import sqlite3

    try:
        with sqlite3.connect(db, timeout=SQLITE_TIMEOUT_S) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.DatabaseError as exc:
        raise StorageError(
            f"study.storage: {db} is not a usable SQLite database ({exc}). Point "
            "--storage at another file; this one was left as it is."
        ) from None


CONFIG_ATTR_PREFIX = "config."


def stored_config(study: optuna.Study) -> dict[str, Any]:
    """The resolved config a study was created with, reassembled from its user attrs."""
    prefix = CONFIG_ATTR_PREFIX
    return {k[len(prefix) :]: v for k, v in study.user_attrs.items() if k.startswith(prefix)}


def space_signature(search_space: Mapping[str, ParamSpec]) -> str:
    """A stable JSON text of the search space, stored with the study to detect a changed one."""
    return json.dumps({k: v.to_dict() for k, v in search_space.items()}, sort_keys=True)


#: Study user attr: what decides which examples a trial trains and is scored on.
DATA_IDENTITY_ATTR = "data_identity"
#: Study user attr: [study.metric, data.positive_label], what every trial's value measures.
OBJECTIVE_ATTR = "objective"


def open_study(
    setup: StudySetup,
    *,
    storage: optuna.storages.BaseStorage | None = None,
    data_identity: Mapping[str, Any] | None = None,
) -> optuna.Study:
    """Create the study, or resume it if it exists with the same search space and data.

    ``data_identity`` (see :attr:`hpo.data.Prepared.identity`) is stored with a new study; a
    resume with another one is refused, naming the keys, since trials scored on different
    validation sets cannot be compared. The resolved config (``setup.resolved``) is stored as
    study user attrs (``config.<section>``) so the dashboard and exports show it.
    """
    storage = storage or make_storage(setup.storage_url, study=setup.study)
    name = setup.study.name
    # load_if_exists: workers starting together must all end up in the one study.
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        direction=setup.study.direction,
        sampler=build_sampler(setup.study.sampler),
        pruner=build_pruner(setup.study.pruner),
        load_if_exists=True,
    )
    signature = space_signature(setup.search_space)
    stored = study.user_attrs.get("search_space")
    if stored is not None and stored != signature:
        raise StorageError(
            f"study.name: study {name!r} in {setup.storage_url} was created with a "
            f"different search space ({stored}). Use a new --study-name, or restore the "
            "original search_space."
        )
    objective = [setup.study.metric, setup.positive_label]
    stored_objective = study.user_attrs.get(OBJECTIVE_ATTR, ["accuracy", None])
    if study.trials and stored_objective != objective:
        raise StorageError(
            f"study.metric: study {name!r} in {setup.storage_url} maximizes validation "
            f"{stored_objective[0]} (positive label {stored_objective[1]!r}), not {objective[0]} "
            f"(positive label {objective[1]!r}); its trials' values are of that metric. Use a "
            "new --study-name, or set study.metric back."
        )
    stored_identity = study.user_attrs.get(DATA_IDENTITY_ATTR)
    if data_identity is not None and stored_identity is not None:
        changed = [
            f"{key} {stored_identity.get(key)!r} -> {data_identity.get(key)!r}"
            for key in sorted(set(stored_identity) | set(data_identity))
            if stored_identity.get(key) != data_identity.get(key)
        ]
        if changed:
            raise StorageError(
                f"study.name: study {name!r} in {setup.storage_url} was searched on other "
                f"data ({'; '.join(changed)}); its trials were trained and scored on other "
                "examples. Use a new --study-name, or restore those keys."
            )
    if stored is None:
        study.set_user_attr("search_space", signature)
    if study.user_attrs.get(OBJECTIVE_ATTR) != objective:  # new study, or none stored yet
        study.set_user_attr(OBJECTIVE_ATTR, objective)
    if data_identity is not None and stored_identity is None:
        study.set_user_attr(DATA_IDENTITY_ATTR, dict(data_identity))
    # The config of the latest run (n_trials may have grown), one attr per section:
    # optuna-dashboard cuts attr values at 1,024 characters.
    for section, value in setup.resolved.items():
        study.set_user_attr(f"{CONFIG_ATTR_PREFIX}{section}", value)
    return study


def load_existing_study(study_name: str, storage_url: str, source: str = "CONFIG") -> optuna.Study:
    """Load study ``study_name`` that must already exist in ``storage_url`` (``hpo trials``,
    export, report, the final stage); ``source``: the config file a missing study's message
    tells the user to search first.

    Creates nothing: no database, no folder, no study. A missing study is one line that names
    the studies the storage holds.
    """
    try:
        storage = make_storage(storage_url, create=False)
    except MissingDatabaseError as exc:
        raise MissingDatabaseError(exc.db, study_name) from None
    try:
        return optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        names = optuna.get_all_study_names(storage)
        there = f"studies there: {', '.join(names)}" if names else "it holds no study"
        raise StorageError(
            f"study.name: no study {study_name!r} in {storage_url} ({there}). "
            f"Pass --study-name NAME, or run `hpo search {source}` first."
        ) from None


def requeue(study: optuna.Study, number: int) -> None:
    """Queue trial ``number``'s params to run next, as the heartbeat retry does for a trial
    whose process was killed (same params, user attrs and ``failed_trial`` system attr)."""
    trial = study.get_trials(deepcopy=False)[number]
    with warnings.catch_warnings():
        # Experimental since Optuna 2.8; it is what the heartbeat retry uses too.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        _RETRY_CALLBACK(max_retry=None)(study, trial)


def fail_stale_trials(study: optuna.Study) -> None:
    """Fail (and requeue, via the storage's callback) trials whose worker stopped heartbeating."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
