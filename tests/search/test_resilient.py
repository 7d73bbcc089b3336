"""The worker's storage outlives a lost database: heartbeats survive, writes wait, a lost tell's
answer is recognised, and a trial failed for its heartbeat says why."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

import hpo.search.resilient as resilient
from hpo.config.schema import StudySection
from hpo.search.resilient import (
    EXIT_UNREACHABLE,
    DatabaseUnreachable,
    ResilientStorage,
    database_lost,
    fail_reason,
    is_connection_error,
)
from hpo.search.storage import fail_stale_trials, make_storage
from hpo.train.trial_record import FAIL_REASON_ATTR


def _lost() -> OperationalError:
    return OperationalError("SELECT 1", {}, ConnectionResetError("server closed the connection"))


class Outage:
    """Makes the next ``n`` statements on ``storage``'s engine fail as a lost connection does."""

    def __init__(self, storage: optuna.storages.RDBStorage, n: int) -> None:
        self.left = n
        event.listen(storage.engine, "before_cursor_execute", self)

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        if self.left > 0:
            self.left -= 1
            raise _lost()


@pytest.fixture
def storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ResilientStorage:
    monkeypatch.setattr(resilient, "BACKOFF_S", (0.01, 0.02))
    made = make_storage(
        f"sqlite:///{tmp_path / 's.db'}",
        study=StudySection(name="s", heartbeat_interval=1, grace_period=2),
    )
    assert isinstance(made, ResilientStorage), "searches and workers get the resilient storage"
    return made


def _running_trial(storage: ResilientStorage) -> tuple[optuna.Study, optuna.Trial]:
    study = optuna.create_study(study_name="s", storage=storage, load_if_exists=True)
    return study, study.ask()


def test_connection_errors_are_told_from_refused_statements() -> None:
    wrapped = optuna.exceptions.StorageInternalError("commit failed")
    wrapped.__cause__ = _lost()
    assert is_connection_error(wrapped) and is_connection_error(_lost())
    assert not is_connection_error(optuna.exceptions.UpdateFinishedTrialError("finished"))
    assert not is_connection_error(ValueError("bad value"))


def test_a_failed_heartbeat_is_logged_and_the_next_one_lands(
    storage: ResilientStorage, caplog: pytest.LogCaptureFixture
) -> None:
    _, trial = _running_trial(storage)
    Outage(storage, 1)
    with caplog.at_level(logging.WARNING, logger="hpo.search.resilient"):
        storage.record_heartbeat(trial._trial_id)  # Optuna's thread would have died here
    assert "Heartbeat of trial id" in caplog.text and "database unreachable" in caplog.text
    storage.record_heartbeat(trial._trial_id)


def test_writes_and_reads_wait_for_the_database(storage: ResilientStorage) -> None:
    study, trial = _running_trial(storage)
    Outage(storage, 3)
    trial.report(0.5, 10)
    trial.set_user_attr("k", 1)
    assert study.trials[trial.number].intermediate_values == {10: 0.5}
    assert study.trials[trial.number].user_attrs["k"] == 1


def test_a_tell_whose_answer_was_lost_counts_as_told(storage: ResilientStorage) -> None:
    study, trial = _running_trial(storage)
    told: list[str] = []

    def before_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("UPDATE trials SET state"):
            told.append(statement)

    def after_commit(session: Any) -> None:
        if len(told) == 1:
            told.append("answered")
            raise _lost()  # the tell's commit landed; its answer did not arrive

    event.listen(storage.engine, "before_cursor_execute", before_execute)
    event.listen(storage.scoped_session, "after_commit", after_commit)
    study.tell(trial, 0.75)
    assert study.trials[trial.number].state == TrialState.COMPLETE
    assert study.trials[trial.number].value == 0.75
    assert told[-1] == "answered", "the lost answer was simulated"


def test_a_tell_on_a_trial_failed_elsewhere_is_refused(storage: ResilientStorage) -> None:
    _, trial = _running_trial(storage)
    storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)  # as the stale check does
    with pytest.raises(optuna.exceptions.UpdateFinishedTrialError):
        storage.set_trial_state_values(trial._trial_id, TrialState.COMPLETE, [0.9])


def test_the_worker_gives_up_after_the_grace_period(storage: ResilientStorage) -> None:
    _, trial = _running_trial(storage)
    Outage(storage, 10**6)
    began = time.monotonic()
    with pytest.raises(DatabaseUnreachable, match="did not answer for 2 s") as caught:
        storage.set_trial_state_values(trial._trial_id, TrialState.COMPLETE, [0.9])
    assert 2.0 <= time.monotonic() - began < 10.0
    assert caught.value.exit_code == EXIT_UNREACHABLE == 75


def test_a_trial_failed_for_its_heartbeat_says_why_and_is_requeued(
    storage: ResilientStorage,
) -> None:
    study, trial = _running_trial(storage)
    storage.record_heartbeat(trial._trial_id)
    time.sleep(3.2)  # past the 2 s grace period
    fail_stale_trials(study)
    frozen = study.trials[trial.number]
    assert frozen.state == TrialState.FAIL
    assert "worker lost: no heartbeat for 2 s" in fail_reason(study, frozen)
    assert [t.state for t in study.trials[1:]] == [TrialState.WAITING]


def test_the_trainers_reason_is_the_one_read_back(storage: ResilientStorage) -> None:
    study, trial = _running_trial(storage)
    trial.set_user_attr(FAIL_REASON_ATTR, "OSError: No space left on device")
    study.tell(trial, state=TrialState.FAIL)
    assert fail_reason(study, study.trials[trial.number]) == "OSError: No space left on device"


def test_the_lost_database_is_found_under_what_optuna_raised_on_top() -> None:
    lost = DatabaseUnreachable("gone")
    try:
        try:
            raise lost
        except DatabaseUnreachable:
            raise UnboundLocalError("updated_state") from None  # Optuna's finally, on top
    except UnboundLocalError as on_top:
        assert database_lost(on_top) is None, "from None hides it: nothing to find"
    try:
        try:
            raise lost
        except DatabaseUnreachable:
            raise UnboundLocalError("updated_state")  # noqa: B904 - as Optuna raises it
    except UnboundLocalError as on_top:
        assert database_lost(on_top) is lost
    assert database_lost(ValueError("other")) is None


def test_a_trial_is_created_once_a_connection_opens(
    storage: ResilientStorage,
) -> None:
    import sqlite3

    study, _ = _running_trial(storage)
    refused = [2]

    def connect(*args: Any, **kwargs: Any) -> None:
        if refused[0] > 0:
            refused[0] -= 1
            raise sqlite3.OperationalError("unable to open database file")

    storage.engine.dispose()  # the next call must open a connection
    event.listen(storage.engine, "do_connect", connect)
    assert study.ask().number == 1 and refused == [0], "waited for the connection"
