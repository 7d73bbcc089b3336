"""The trials every new study starts with: the strong default (:data:`STRONG_DEFAULT`), then
the reference setup, each restricted to the searched keys. The search's best is then never a
setting that one of them beat on validation, and the report measures the search against both.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hpo.config.reference import DEFAULT_ATTR, default_params, resolve_reference
from hpo.train.trial_record import REFERENCE_ATTR

if TYPE_CHECKING:
    import optuna

    from hpo.config.space import ParamSpec

logger = logging.getLogger(__name__)


def first_trials(
    space: Mapping[str, ParamSpec],
    training: Mapping[str, Any],
    reference: Mapping[str, Any],
    *,
    enqueue_reference: bool,
    n_train: int,
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(params, user attrs) of the trials a new study enqueues, in order: the strong default
    (when the search space holds its values), then the reference (``enqueue_reference``); one
    trial where both are the same point. ``training``: the fixed settings, defaults filled in."""
    epochs = float(training["num_train_epochs"])
    trials: list[tuple[dict[str, Any], dict[str, Any]]] = []
    default = default_params(space, training, n_train=n_train, epochs=epochs)
    if default:
        trials.append((default, {DEFAULT_ATTR: True}))
    else:
        logger.info("The strong default lies outside the search space: not enqueued.")
    if enqueue_reference:
        resolved = resolve_reference(space, reference, training, n_train=n_train)
        if resolved and trials and resolved == trials[0][0]:
            trials[0][1][REFERENCE_ATTR] = True
        elif resolved:
            trials.append((resolved, {REFERENCE_ATTR: True}))
    return trials


def enqueue_first_trials(
    study: optuna.Study, trials: list[tuple[dict[str, Any], dict[str, Any]]]
) -> None:
    """Enqueue ``trials`` (:func:`first_trials`) on a new study."""
    for params, attrs in trials:
        # skip_if_exists: two workers starting on an empty study enqueue each once.
        study.enqueue_trial(params, user_attrs=attrs, skip_if_exists=True)
        logger.info("Enqueued %s: %s", ", ".join(attrs).replace("_", " "), params)


def first_trial_names(attrs: Mapping[str, Any]) -> list[str]:
    """What a trial with these user attrs was enqueued as, for the log."""
    names = ((DEFAULT_ATTR, "the strong default"), (REFERENCE_ATTR, "the reference setup"))
    return [name for attr, name in names if attrs.get(attr)]
