"""A budgeted search's share, stored on the study so that every process searching it keeps the
same deadline (issue 37).

The process that owns the budget (``hpo run --budget``) writes when its search's share ends
(``time.time()``, moved as the trials measure the machine) before each trial it starts. Every
other process on the study (``hpo worker``, the workers of ``--workers`` or a Slurm array, one
that joins late or is requeued) reads it from storage before each trial, never a clock of its
own: it starts no trial that cannot finish before it, cuts a running trial at its next
evaluation when the share ends, and exits once it has. Clocks of different hosts are compared
as they are: keep them in sync (NTP), as a cluster does.

The share also keeps when the budget started, so that a job split across processes (the search
in a Slurm array, the final stage in a job after it) counts one budget from one start, and a
requeued owner keeps the deadline it first had. A worker that brings the budget and finds no
share yet waits for the owner's plan (:func:`wait_for_share`), then runs the config the owner
planned, not its own.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import optuna

from hpo.config.budget import format_minutes, parse_budget
from hpo.errors import ConfigError

if TYPE_CHECKING:
    from hpo.config.schema import StudySection

logger = logging.getLogger(__name__)

#: Study user attr: the :class:`SearchShare` of a budgeted search.
SHARE_ATTR = "search_share"
#: A deadline moved by less than this is not written again (one write a trial at most).
_MOVED_SECONDS = 1.0


@dataclass(frozen=True)
class SearchShare:
    """When a budgeted search's share ends, and what decides whether a trial still fits it."""

    #: ``time.time()`` at which the search's share ends.
    ends_at: float
    #: The whole job's budget (seconds), None where the deadline was given without one.
    budget_seconds: float | None
    #: The plan's seconds for the shortest trial (before a trial has measured them).
    shortest_trial: float
    #: ``time.time()`` at which the budget began (None where the deadline was given without).
    started: float | None = None

    @classmethod
    def of(cls, study: optuna.Study) -> SearchShare | None:
        """The share stored on ``study`` (read from storage), None where none was."""
        stored = study.user_attrs.get(SHARE_ATTR)
        if not isinstance(stored, dict):
            return None
        budget, started = stored.get("budget_seconds"), stored.get("started")
        return cls(
            ends_at=float(stored["ends_at"]),
            budget_seconds=None if budget is None else float(budget),
            shortest_trial=float(stored.get("shortest_trial", 0.0)),
            started=None if started is None else float(started),
        )

    def publish(self, study: optuna.Study) -> None:
        """Store this share on ``study`` (unless what is stored differs by under a second); a
        share that does not say when the budget began keeps the stored start."""
        before = SearchShare.of(study)
        share = self
        if before is not None and share.started is None:
            share = dataclasses.replace(share, started=before.started)
        if (
            before is not None
            and before.started == share.started
            and abs(before.ends_at - share.ends_at) < _MOVED_SECONDS
        ):
            return
        study.set_user_attr(SHARE_ATTR, asdict(share))

    def ended(self) -> bool:
        """Whether the share's time is up."""
        return self.ends_at <= time.time()


class ShareClock:
    """What the search loop asks before each trial: when the share ends (None: no deadline).

    Owned (``deadline`` given): the owner's deadline, published on the study. Joined: the
    study's stored one, re-read every time (None until the owner has stored it).
    """

    def __init__(
        self,
        deadline: float | Callable[[optuna.Study], float] | None,
        shortest_trial: float,
        *,
        budget_seconds: float | None,
        joined: bool,
        started: float | None = None,
    ) -> None:
        self.deadline, self.shortest_trial = deadline, shortest_trial
        self.budget_seconds, self.joined, self.started = budget_seconds, joined, started

    def due(self, study: optuna.Study) -> float | None:
        """``time.time()`` by which the search's share ends, for the next trial."""
        if self.joined:
            share = SearchShare.of(study)
            if share is None:
                return None
            self.shortest_trial = share.shortest_trial
            return share.ends_at
        due = self.deadline(study) if callable(self.deadline) else self.deadline
        if due is not None:
            SearchShare(due, self.budget_seconds, self.shortest_trial, self.started).publish(study)
        return due

    def close(self, study: optuna.Study) -> None:
        """The owner's search has ended (its trials done, or its share): the share ends now,
        so that a worker joining later starts no trial the final stage would not use."""
        if self.deadline is not None:  # the owner's; a plain or joined search ends nobody's
            ended = SearchShare(time.time(), self.budget_seconds, self.shortest_trial, self.started)
            ended.publish(study)


def share_clock(
    study: optuna.Study,
    study_cfg: StudySection,
    deadline: float | Callable[[optuna.Study], float] | None,
    shortest_trial: float,
    *,
    worker: bool,
    started: float | None = None,
) -> ShareClock:
    """The clock of one process's search on ``study``: its own ``deadline`` where it was given
    one (published for the others, with the budget's ``started``), else the study's stored
    share where it is a ``worker`` or its config has a budget (a budgeted run's saved config,
    which workers run)."""
    budget = None if study_cfg.budget is None else parse_budget(study_cfg.budget)
    if deadline is not None:
        return ShareClock(
            deadline, shortest_trial, budget_seconds=budget, joined=False, started=started
        )
    joined = worker or budget is not None
    stored = SearchShare.of(study)
    if joined and stored is not None:
        logger.info(
            "Joining the search's share of study %r: it ends in %s.",
            study_cfg.name,
            format_minutes(max(0.0, stored.ends_at - time.time())),
        )
    return ShareClock(None, shortest_trial, budget_seconds=budget, joined=joined)


def stored_share(
    study_name: str, storage_url: str
) -> tuple[optuna.Study | None, SearchShare | None]:
    """The stored study and its share, creating nothing: (None, None) where the database or
    the study does not exist yet."""
    from hpo.search.storage import MissingDatabaseError, make_storage

    try:
        storage = make_storage(storage_url, create=False)
        study = optuna.load_study(study_name=study_name, storage=storage)
    except (MissingDatabaseError, KeyError):
        return None, None
    return study, SearchShare.of(study)


def wait_for_share(
    study_name: str, storage_url: str, *, poll_s: float = 1.0, timeout_s: float | None = None
) -> tuple[optuna.Study, SearchShare]:
    """The study and its share, once the process that owns the budget has planned and stored
    them (a worker of a budgeted job may start first: a Slurm array's tasks start in any
    order). Interrupt it to stop waiting; ``timeout_s`` raises :class:`TimeoutError` after."""
    logged, given_up = False, None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        study, share = stored_share(study_name, storage_url)
        if study is not None and share is not None:
            return study, share
        if given_up is not None and time.monotonic() > given_up:
            raise TimeoutError(f"no budgeted run stored a share on study {study_name!r}")
        if not logged:
            logger.info(
                "Waiting for the budgeted run that owns study %r to plan it and store its "
                "search's deadline (`hpo run --budget`, or task 0 of `hpo launch slurm "
                "--budget`).",
                study_name,
            )
            logged = True
        time.sleep(poll_s)


def refuse_other_budget(study_cfg: StudySection, stored: SearchShare | None) -> None:
    """Raise :class:`ConfigError` where ``study_cfg`` brings a budget other than the one the
    stored study keeps (``stored``, from :func:`stored_share`; checked before a worker writes
    anything); a study not stored yet, or stored with no budget, has nothing to compare."""
    if study_cfg.budget is None:
        return
    budget = parse_budget(study_cfg.budget)
    if stored is None or not stored.budget_seconds:
        return
    if abs(stored.budget_seconds - budget) >= 1.0:
        raise ConfigError(
            f"study.budget: study {study_cfg.name!r} keeps the deadline of the budget it was "
            f"started with ({format_minutes(stored.budget_seconds)}), not "
            f"{format_minutes(budget)}: a worker joins that deadline and brings none of its "
            f"own. Drop --budget (study.budget) or give {format_minutes(stored.budget_seconds)}."
        )
