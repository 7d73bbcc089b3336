"""A trial that runs out of memory: its params are retried once at half the per-device batch,
with gradient accumulation doubled so that the effective batch, and so the params' meaning,
stay the same; the study goes on either way.

The failed trial keeps its reason (``OutOfMemoryError: ...``) and the device is freed where it
failed (:mod:`hpo.train.failure`, :func:`hpo.train.memory.release_device`); the retry is an
enqueued trial with the same params and :data:`~hpo.train.trial_record.BATCH_DIVISOR_ATTR`,
which :func:`hpo.train.settings.halving_batch` applies when the trial starts, and the final
stage again when that trial is the best.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from optuna.trial import TrialState

from hpo.train.trial_record import BATCH_DIVISOR_ATTR, RETRY_OF_ATTR, TrialRecord

if TYPE_CHECKING:
    import optuna

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
