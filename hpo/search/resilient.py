"""A worker's storage that outlives a database restart or a short network cut.

Optuna's heartbeat thread calls ``record_heartbeat`` with no error handling: one failed write
ends the thread while the trial keeps training, the trial is then failed as stale and rerun
elsewhere, and the worker's final ``tell`` fails too (optuna#4234, #5470). :class:`ResilientStorage`
is Optuna's :class:`~optuna.storages.RDBStorage` with its public methods wrapped:

- ``record_heartbeat`` logs a failed write and returns, so the thread tries again at the next
  interval instead of dying;
- the writes a running trial makes (reports, attrs, the final state) and the reads it needs
  are retried with backoff while the database cannot be reached, for at most the grace period
  (after that the trial is stale anyway and another worker reruns it); then
  :class:`DatabaseUnreachable` ends the worker with :data:`EXIT_UNREACHABLE`, so a scheduler
  can requeue it;
- a retried ``tell`` whose first attempt had in fact committed is recognised, not failed.

Creating a trial is retried only while no connection can be opened: if its commit landed but
the answer was lost, a retry would leave a second trial RUNNING with no heartbeat, which
nothing ever fails.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import optuna
from optuna.trial import FrozenTrial, TrialState

from hpo.errors import HpoError
from hpo.train.trial_record import FAIL_REASON_ATTR, TrialRecord

logger = logging.getLogger(__name__)

#: Exit status of a worker that gave up on an unreachable database (EX_TEMPFAIL: try again).
EXIT_UNREACHABLE = 75

#: First and longest pause between attempts while the database is unreachable.
BACKOFF_S = (0.25, 2.0)

#: Methods that are safe to repeat: reads, and writes that set a value to the same value.
RETRIED = (
    "get_study_id_from_name",
    "get_study_name_from_id",
    "get_study_directions",
    "get_study_user_attrs",
    "get_study_system_attrs",
    "get_all_studies",
    "get_trial",
    "get_all_trials",
    "get_best_trial",
    "get_trial_id_from_study_id_trial_number",
    "get_trial_user_attrs",
    "get_trial_system_attrs",
    "get_trial_param",
    "set_study_user_attr",
    "set_study_system_attr",
    "set_trial_param",
    "set_trial_intermediate_value",
    "set_trial_user_attr",
    "set_trial_system_attr",
    # Private, but what Optuna's _CachedStorage (the study's view of an RDBStorage) calls
    # instead of the public ones; tests/meta/test_private_apis.py fails if that changes.
    "_get_trials",
    "_get_best_trial_id",
    "_get_stale_trial_ids",
    "_set_trial_param",
)

T = TypeVar("T")


class DatabaseUnreachable(HpoError):
    """The study's database could not be reached for the whole grace period."""

    exit_code = EXIT_UNREACHABLE


def is_connection_error(exc: BaseException) -> bool:
    """Whether ``exc`` means the database could not be reached (worth retrying), as opposed
    to a refused statement (bad data, a constraint), which a retry would only repeat."""
    from sqlalchemy import exc as sa

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sa.DBAPIError) and current.connection_invalidated:
            return True
        # OperationalError: connection refused, reset or timed out; TimeoutError: the
        # connection pool had none to give within its timeout.
        if isinstance(current, sa.OperationalError | sa.InterfaceError | sa.TimeoutError):
            return True
        current = current.__cause__ or current.__context__
    return False


def failed_to_connect(exc: BaseException) -> bool:
    """Whether ``exc`` is a failure to open a connection (SQLAlchemy's error carries no
    statement then): the database never saw the call."""
    from sqlalchemy import exc as sa

    current: BaseException | None = exc
    for _ in range(8):
        if current is None:
            return False
        if isinstance(current, sa.DBAPIError):
            return current.statement is None and is_connection_error(current)
        current = current.__cause__ or current.__context__
    return False


class ResilientStorage(optuna.storages.RDBStorage):
    """:class:`~optuna.storages.RDBStorage` that waits out a lost database (see the module).

    ``patience_s``: how long one call keeps retrying; the study's grace period.
    """

    def __init__(self, url: str, *, patience_s: float, **kwargs: Any) -> None:
        self.patience_s = float(patience_s)
        super().__init__(url, **kwargs)

    def record_heartbeat(self, trial_id: int) -> None:
        """Record the heartbeat; on a database error, log it and let the next beat try again."""
        try:
            super().record_heartbeat(trial_id)
        except Exception as exc:
            if not is_connection_error(exc):
                raise
            logger.warning(
                "Heartbeat of trial id %d not recorded (database unreachable: %s); trying "
                "again in %s s.",
                trial_id,
                _first_line(exc),
                self.heartbeat_interval,
            )

    def set_trial_state_values(
        self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
    ) -> bool:
        """The trial's ``tell``, retried while the database is unreachable."""
        attempts = [0]

        def tell() -> bool:
            attempts[0] += 1
            try:
                return super(ResilientStorage, self).set_trial_state_values(trial_id, state, values)
            except optuna.exceptions.UpdateFinishedTrialError:
                if attempts[0] > 1 and self._landed(trial_id, state, values):
                    return True  # the lost attempt had committed
                raise

        return self._retrying("set_trial_state_values", tell)

    def _landed(self, trial_id: int, state: TrialState, values: Sequence[float] | None) -> bool:
        stored = super().get_trial(trial_id)
        return stored.state == state and (values is None or stored.values == list(values))

    def _create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> Any:
        """Create a trial, retried only while no connection could be made: then nothing was
        sent, so a retry cannot leave a second trial behind. Both the study's cached storage
        and the public ``create_new_trial`` come through here (see RETRIED)."""
        return self._retrying(
            "create_new_trial",
            lambda: super(ResilientStorage, self)._create_new_trial(study_id, template_trial),
            retry_if=failed_to_connect,
        )

    def _retrying(
        self,
        name: str,
        call: Callable[[], T],
        retry_if: Callable[[BaseException], bool] = is_connection_error,
    ) -> T:
        give_up = time.monotonic() + self.patience_s
        pause, longest = BACKOFF_S
        while True:
            try:
                return call()
            except Exception as exc:
                if not retry_if(exc):
                    raise
                left = give_up - time.monotonic()
                if left <= 0:
                    raise DatabaseUnreachable(
                        f"study.storage: the database did not answer for {self.patience_s:.0f} s "
                        f"(the grace period; last error: {_first_line(exc)}). This worker gives "
                        "up its trial, which another worker reruns; start it again (a Slurm "
                        "task requeues itself) once the database is back."
                    ) from None
                logger.warning(
                    "Database unreachable in %s (%s); retrying for up to %.0f s more.",
                    name,
                    _first_line(exc),
                    left,
                )
                time.sleep(min(pause, left))
                pause = min(2 * pause, longest)


def _retried_method(name: str) -> Callable[..., Any]:
    original = getattr(optuna.storages.RDBStorage, name)

    @functools.wraps(original)
    def method(self: ResilientStorage, *args: Any, **kwargs: Any) -> Any:
        return self._retrying(name, lambda: original(self, *args, **kwargs))

    return method


for _name in RETRIED:
    setattr(ResilientStorage, _name, _retried_method(_name))


def stale_trial_callback(
    retry: Callable[[optuna.Study, FrozenTrial], None], grace_period: float
) -> Callable[[optuna.Study, FrozenTrial], None]:
    """Optuna's heartbeat-stale callback ``retry`` (which requeues the trial's params), after
    recording why the trial failed (see :func:`fail_reason`)."""

    def callback(study: optuna.Study, trial: FrozenTrial) -> None:
        study.set_user_attr(
            f"{FAIL_REASON_ATTR}.{trial.number}",
            f"worker lost: no heartbeat for {grace_period:.0f} s (killed, frozen or cut off "
            "from the database); rerun with the same params",
        )
        retry(study, trial)

    return callback


def fail_reason(study: optuna.Study, trial: FrozenTrial) -> str | None:
    """Why a FAILED trial failed: the error its worker recorded on it, or, for a trial failed
    for a lost heartbeat (which can no longer be written to), the study user attr
    ``fail_reason.<number>`` the heartbeat check wrote."""
    record = TrialRecord.of(trial)
    if record.surplus:  # hpo.search.trials.check_not_surplus, before training
        return "surplus: the study was full when this trial started; it never trained"
    return record.fail_reason or study.user_attrs.get(f"{FAIL_REASON_ATTR}.{trial.number}")


def database_lost(exc: BaseException) -> DatabaseUnreachable | None:
    """The :class:`DatabaseUnreachable` behind ``exc``, if any: Optuna, handling it inside a
    trial, asks the storage again and may raise something else on top (even an
    UnboundLocalError from its own ``finally``)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, DatabaseUnreachable):
            return current
        seen.add(id(current))
        # The chain Python would print: an explicit cause, else the implicit context.
        hidden = current.__suppress_context__
        current = current.__cause__ or (None if hidden else current.__context__)
    return None


def failed_as_stale(study: optuna.Study, number: int) -> bool:
    """Whether trial ``number`` was failed by the heartbeat check (its worker was lost)."""
    return f"{FAIL_REASON_ATTR}.{number}" in study.user_attrs


def _first_line(exc: BaseException) -> str:
    cause = exc.__cause__ or exc
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[0] if text else ''}"[:300]
