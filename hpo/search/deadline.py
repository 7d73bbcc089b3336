"""A budgeted search's clock: whether the next trial can still finish before the deadline.

The trial that is running keeps the deadline itself (:attr:`hpo.train.trainer.HpoTrainer.deadline`
stops it at an evaluation); this decides whether another one starts.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from optuna.trial import TrialState

from hpo.train.settings import setting
from hpo.train.trial_record import TrialRecord

if TYPE_CHECKING:
    import optuna

    from hpo.config.space import ParamSpec

logger = logging.getLogger(__name__)


#: Study user attr: the finished trials a budgeted search ended with, short of study.n_trials.
BUDGET_CLOSED_ATTR = "budget_closed"


def fewest_epochs(search_space: Mapping[str, ParamSpec], training: Mapping[str, Any]) -> float:
    """The fewest epochs a trial of this study trains (its searched low, the fixed value, or
    Trainer's default)."""
    return float(setting("num_train_epochs", search_space, training).lowest() or 1)


def out_of_time(
    study: optuna.Study,
    deadline: float,
    planned: float,
    done: int,
    *,
    fewest_epochs: float,
    joined: bool = False,
) -> bool:
    """True (and noted on the study) when the next trial could not finish before ``deadline``.

    A trial's cost is what the finished trials took per epoch (their median) at the fewest
    epochs, or the ``planned`` seconds before any finished. The first trial always starts (the
    final stage needs one) in the process that owns the budget, not in one that ``joined`` its
    deadline (a worker); a study a budget closed before stays closed for budgeted runs.
    """
    if study.user_attrs.get(BUDGET_CLOSED_ATTR) is not None:
        return True
    if not done and not joined:  # with no trial finished there is nothing to retrain: run one
        return False
    need = shortest_trial(study, fewest_epochs) or planned
    left = deadline - time.time()
    if left >= need:
        return False
    logger.info(
        "The search %s by the budget with %d finished trial(s): %.0f s left of its share, and "
        "a trial takes about %.0f s.",
        "ends for this worker" if joined else "ends",
        done,
        max(0.0, left),
        need,
    )
    if not joined:  # the process that owns the budget closes the study; a worker just leaves
        study.set_user_attr(BUDGET_CLOSED_ATTR, done)
    return True


def shortest_trial(study: optuna.Study, fewest_epochs: float) -> float | None:
    """Seconds of a trial at ``fewest_epochs``, from the median per-epoch wall time of the
    trials that ran whole (None before any did)."""
    per_epoch = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        record = TrialRecord.of(trial)
        wall = record.measured.get("wall_seconds")
        if not record.evals or not wall or record.cut_by_budget is not None:
            continue
        per_epoch.append(wall / max(record.evals[-1].epoch, 1e-6))
    if not per_epoch:
        return None
    return statistics.median(per_epoch) * fewest_epochs
