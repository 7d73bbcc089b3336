"""Sizing a search to the seconds it has: the largest subset and trials that fit
(:func:`sized`), the trials you fixed on the smallest subset (:func:`smallest_search`), and
the bisection both use (:func:`largest`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hpo.plan.assemble import Search
from hpo.plan.constants import MAX_TRIALS, MIN_TRIALS, SMALLEST_SEARCH, TARGET_TRIALS

if TYPE_CHECKING:
    from hpo.plan.profile import DataProfile


def sized(
    cost: Any,
    seconds: float,
    least: int,
    profile: DataProfile,
    *,
    fixed_train: int | None,
    trials: int | None,
    workers: int = 1,
) -> Search | None:
    """The largest search from ``least`` examples up that fits ``seconds``: the subset grows up
    to all of train at :data:`TARGET_TRIALS` trials (at least one a worker; ``trials`` when you
    fixed them), then the trials grow; None when not even ``least`` examples at
    :data:`MIN_TRIALS` trials fit."""
    least_trials = trials or MIN_TRIALS
    if cost(least, least_trials) > seconds:
        return None
    target = max(TARGET_TRIALS, workers)
    aim = trials or target
    if fixed_train:
        examples = least
    else:
        examples = largest(lambda s: cost(s, aim) <= seconds, least, profile.n_train) or least
    if not trials:
        aim = largest(lambda t: cost(examples, t) <= seconds, least_trials, MAX_TRIALS) or aim
        if examples < profile.n_train:
            aim = min(aim, target)
    if examples < profile.n_train and not fixed_train:
        examples = max(least, examples // 100 * 100)
    return Search(examples, aim, cost(examples, aim))


def smallest_search(
    cost: Any, profile: DataProfile, fixed_train: int | None, trials: int
) -> Search:
    """The trials you fixed on the smallest subset (yours, else :data:`SMALLEST_SEARCH` or 8 a
    class): the deadline ends them early where they do not fit."""
    examples = min(profile.n_train, fixed_train or max(SMALLEST_SEARCH, 8 * profile.n_classes))
    return Search(examples, trials, cost(examples, trials))


def largest(ok: Any, low: int, high: int) -> int | None:
    """The largest integer in [low, high] for which ``ok`` holds (``ok`` falls off once)."""
    if high < low or not ok(low):
        return None
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if ok(mid) else (low, mid - 1)
    return low
