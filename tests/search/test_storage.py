"""Storage: a resume with another search space or other data is refused; racing creators."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest

from hpo.api import load_config
from hpo.errors import StorageError
from hpo.search.loop import run_search
from hpo.search.storage import make_storage

pytestmark = pytest.mark.slow


def test_changed_search_space_is_refused(searched_config) -> None:
    path = searched_config({"study": {"n_trials": 1}})
    changed = load_config(path, ["search_space.learning_rate.high=0.01"])
    with pytest.raises(StorageError, match="different search space"):
        run_search(changed, quiet=True)
    # The stored study is untouched.
    study = optuna.load_study(study_name="t", storage=changed.storage_url)
    assert len(study.trials) == 1


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("data.max_train_samples=300", "data.max_train_samples None -> 300"),
        ("data.max_eval_samples=50", "data.max_eval_samples None -> 50"),
        ("data.validation_fraction=0.3", "data.validation_fraction 0.2 -> 0.3"),
        ("data.split_seed=7", "data.split_seed 42 -> 7"),
        ("data.max_length=32", "data.max_length 48 -> 32"),
    ],
)
def test_changed_data_is_refused_on_resume(searched_config, override: str, key: str) -> None:
    """Trials scored on different validation sets must not be mixed in one study."""
    path = searched_config({"study": {"n_trials": 1}})
    changed = load_config(path, [override, "study.n_trials=2"])
    with pytest.raises(StorageError, match="was searched on other data") as info:
        run_search(changed, quiet=True)
    assert key in str(info.value)
    study = optuna.load_study(study_name="t", storage=changed.storage_url)
    assert len(study.trials) == 1
    assert study.user_attrs["config.study"]["n_trials"] == 1, "nothing was written"


def test_changed_data_files_are_refused_on_resume(make_config, tiny_data, tmp_path: Path) -> None:
    import shutil

    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    path = make_config({"study": {"n_trials": 1}, "data": {"path": str(data)}})
    run_search(load_config(path), quiet=True)
    with (data / "train.jsonl").open("a") as fh:
        fh.write('{"text": "one more review", "label": 1}\n')
    with pytest.raises(StorageError, match="data fingerprint"):
        run_search(load_config(path, ["study.n_trials=2"]), quiet=True)


def _open_storage(url: str, queue: Any) -> None:

    try:
        make_storage(url)
        queue.put("ok")
    except Exception as exc:  # reported to the parent, which fails the test
        queue.put(f"{type(exc).__name__}: {exc}")


def test_processes_creating_one_sqlite_file_at_once(tmp_path: Path) -> None:
    """Workers (or a dashboard and a search) opening a new database together all succeed."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    for round_ in range(3):
        url = f"sqlite:///{tmp_path / f'r{round_}.db'}"
        queue = ctx.Queue()
        procs = [ctx.Process(target=_open_storage, args=(url, queue)) for _ in range(4)]
        for p in procs:
            p.start()
        results = [queue.get(timeout=60) for _ in procs]
        for p in procs:
            p.join()
        assert results == ["ok"] * 4, results


def test_a_failed_attempt_to_open_a_new_database_closes_its_connections(
    tmp_path: Path, monkeypatch
) -> None:
    """The race lost on a new database leaves no pool of idle connections behind (16 workers
    starting on an empty PostgreSQL database held one more than they were sized for)."""
    import optuna
    from sqlalchemy.exc import IntegrityError

    from hpo.search import storage as storage_module

    attempts: list[optuna.storages.RDBStorage] = []
    opened = optuna.storages.RDBStorage.__init__

    def lose_the_first_race(self, *args, **kwargs) -> None:
        opened(self, *args, **kwargs)  # tables made, connections pooled
        attempts.append(self)
        if len(attempts) == 1:
            raise IntegrityError("INSERT INTO version_info", {}, Exception("duplicate key"))

    monkeypatch.setattr(optuna.storages.RDBStorage, "__init__", lose_the_first_race)
    monkeypatch.setattr(storage_module.time, "sleep", lambda s: None)
    url = f"sqlite:///{tmp_path / 'race.db'}"
    storage = storage_module._create_rdb_storage(url, {}, {})
    assert len(attempts) == 2 and storage is attempts[1]
    # RDBStorage.engine is where Optuna keeps its engine; the lost attempt's must be closed.
    assert attempts[0].engine.pool.checkedin() == 0
    assert storage.engine.pool.checkedin() > 0  # the kept one pools as before
    optuna.create_study(storage=storage, study_name="after-the-race")
