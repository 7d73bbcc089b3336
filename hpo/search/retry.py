"""A trial that runs out of memory: its params are retried once at half the per-device batch,
with gradient accumulation doubled so that the effective batch, and so the params' meaning,
stay the same; the study goes on either way.

The failed trial keeps its reason (``OutOfMemoryError: ...``) and the device is freed where it
failed (:mod:`hpo.train.failure`, :func:`hpo.train.memory.release_device`); the retry is an
enqueued trial with the same params and :data:`~hpo.train.trial_record.BATCH_DIVISOR_ATTR`,
which :func:`halving_batch` applies when the trial starts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from optuna.trial import TrialState

from hpo.train.settings import setting
from hpo.train.trial_record import BATCH_DIVISOR_ATTR, RETRY_OF_ATTR, TrialRecord

if TYPE_CHECKING:
    import optuna

    from hpo.config.space import ParamSpec

logger = logging.getLogger(__name__)


def retry_out_of_memory(study: optuna.Study, number: int) -> bool:
    """Enqueue trial ``number``'s params at half its batch when it failed out of memory and was
    not such a retry itself; True when it did."""
    trial = study.get_trials(deepcopy=False)[number]
    record = TrialRecord.of(trial)
    if trial.state != TrialState.FAIL or not record.out_of_memory:
        return False
    if record.batch_divisor > 1:
        logger.warning(
            "Trial %d ran out of memory at 1/%d of its batch too; its params are not tried "
            "again (a shorter data.max_length or a smaller model needs less).",
            number,
            record.batch_divisor,
        )
        return False
    study.enqueue_trial(
        dict(trial.params), user_attrs={BATCH_DIVISOR_ATTR: 2, RETRY_OF_ATTR: number}
    )
    logger.warning(
        "Trial %d ran out of memory; its params are retried once at half the batch, with "
        "gradient accumulation keeping the effective batch.",
        number,
    )
    return True


def halving_batch(
    hp_space: Callable[[Any], dict[str, Any]],
    search_space: Mapping[str, ParamSpec],
    training: Mapping[str, Any],
) -> Callable[[Any], dict[str, Any]]:
    """``hp_space`` that, for a retry (a trial with :data:`BATCH_DIVISOR_ATTR`), divides the
    per-device batch and multiplies the gradient accumulation by it. The trial's params stay as
    suggested: the retry searches the same point."""

    def hp_space_halving(trial: Any) -> dict[str, Any]:
        values = hp_space(trial)
        divisor = int(getattr(trial, "user_attrs", {}).get(BATCH_DIVISOR_ATTR) or 1)
        if divisor <= 1:
            return values
        batch = values.get("per_device_train_batch_size")
        if batch is None:
            batch = setting("per_device_train_batch_size", search_space, training).value
        steps = values.get("gradient_accumulation_steps")
        if steps is None:
            steps = setting("gradient_accumulation_steps", search_space, training).value
        return values | {
            "per_device_train_batch_size": max(1, int(batch) // divisor),
            "gradient_accumulation_steps": int(steps) * divisor,
        }

    return hp_space_halving
