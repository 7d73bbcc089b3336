"""Sizing a search to its seconds: the subset grows first, then the trials."""

from __future__ import annotations

from test_planner import profile

from hpo.plan.constants import MIN_TRIALS, TARGET_TRIALS
from hpo.plan.sizing import largest, sized, smallest_search


def cost(examples: int, trials: int) -> float:
    """One second a trained example."""
    return float(examples * trials)


def test_largest_bisects_to_the_last_that_holds() -> None:
    assert largest(lambda n: n <= 37, 1, 100) == 37
    assert largest(lambda n: n <= 100, 1, 100) == 100
    assert largest(lambda n: n <= 0, 1, 100) is None
    assert largest(lambda n: True, 5, 4) is None


def test_the_subset_grows_to_all_of_train_then_the_trials() -> None:
    data = profile(n_train=9000)
    # Under the floor's fewest trials: no search.
    assert sized(cost, 1000 * MIN_TRIALS - 1, 1000, data, fixed_train=None, trials=None) is None
    # Between: the subset grows at the target's trials (to a hundred), the trials stay there.
    mid = sized(cost, 5000 * TARGET_TRIALS + 50, 1000, data, fixed_train=None, trials=None)
    assert mid is not None and (mid.examples, mid.trials) == (5000, TARGET_TRIALS)
    # All of train at the target's trials fits: the trials grow.
    big = sized(cost, 9000 * 25, 1000, data, fixed_train=None, trials=None)
    assert big is not None and (big.examples, big.trials) == (9000, 25)
    assert big.seconds == cost(9000, 25)
    # Your subset stays yours.
    mine = sized(cost, 9000 * 25, 1000, data, fixed_train=1000, trials=None)
    assert mine is not None and mine.examples == 1000


def test_your_trials_on_the_smallest_subset() -> None:
    few = smallest_search(cost, profile(n_train=9000, n_classes=50), None, 4)
    assert (few.examples, few.trials) == (400, 4)  # 8 a class
    assert smallest_search(cost, profile(n_train=9000), 300, 4).examples == 300
