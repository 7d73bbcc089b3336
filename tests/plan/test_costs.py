"""The cost model: a batch costs what its longest example costs, cut at the length."""

from __future__ import annotations

from hpo.plan.costs import (
    Costs,
    grouped_by_length,
    per_example,
    search_seconds,
    trial_seconds,
)


def linear(length: float) -> float:
    return length / 100


def test_a_batch_costs_its_longest_example() -> None:
    # Grouped by length, [10, 10] and [100, 100] pad to nothing; at random they may mix.
    grouped = per_example([10, 100, 10, 100], 512, 2, linear, grouped=True)
    assert grouped == (2 * 0.1 + 2 * 1.0) / 4
    mixed = per_example([10, 100, 10, 100], 512, 4, linear, grouped=False)
    assert mixed == 1.0


def test_the_length_cuts_the_cost() -> None:
    assert per_example([600, 600], 128, 2, linear, grouped=True) == 1.28


def test_pruned_trials_cost_less_than_whole_ones() -> None:
    c = Costs(train=0.01, eval=0.002, load=2.0)
    whole = trial_seconds(c, 1000, 1, 500, 2)
    assert whole == 2.0 + 10.0 + 2 * (1.0 + 0.5)
    ten = search_seconds(c, 1000, 10, (1, 1), 500, 2)
    assert 7 * whole < ten < 10 * whole


def test_search_seconds_share_the_trials_among_workers() -> None:
    c = Costs(train=0.01, eval=0.001, load=1.0)
    one = search_seconds(c, 1000, 12, (3, 3), 500, 1)
    assert search_seconds(c, 1000, 12, (3, 3), 500, 1, workers=1) == one
    four = search_seconds(c, 1000, 12, (3, 3), 500, 1, workers=4)
    assert one / 4 < four < one / 2  # shared, and the last trial runs on alone
    # More workers than trials: no faster than the trials all at once.
    assert search_seconds(c, 1000, 2, (3, 3), 500, 1, workers=8) == search_seconds(
        c, 1000, 2, (3, 3), 500, 1, workers=2
    )


def test_grouped_by_length_reads_the_sampling_strategy() -> None:
    assert grouped_by_length({"train_sampling_strategy": "group_by_length"})
    assert not grouped_by_length({"train_sampling_strategy": "random"})
    assert not grouped_by_length({})  # Trainer's default draws batches at random
