"""The cost model: a batch costs what its longest example costs, cut at the length."""

from __future__ import annotations

from typing import Any

import pytest

from hpo.plan.constants import TFIDF_FACTOR, TFIDF_FIXED_SECONDS
from hpo.plan.costs import (
    Costs,
    baseline_seconds,
    grouped_by_length,
    per_example,
    search_seconds,
    trial_seconds,
)
from hpo.plan.profile import DataProfile


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


def _profile(**tfidf: float) -> DataProfile:
    return DataProfile(
        n_train=900,
        n_validation=100,
        n_final_train=1000,
        n_test=300,
        labels=("a", "b"),
        class_counts=(450, 450),
        pairs=False,
        train_lengths=(20,),
        length_percentiles={},
        mean_chars=100.0,
        tokenize_seconds_per_example=1e-4,
        **tfidf,
    )


def test_the_tfidf_grid_costs_each_range_at_its_own_fit() -> None:
    pairs = {"tfidf_seconds_per_example": 0.02, "tfidf_vectorize_seconds_per_example": 0.004}
    timed = _profile(
        **pairs,
        tfidf_unigram_seconds_per_example=0.002,
        tfidf_unigram_vectorize_seconds_per_example=0.001,
    )

    def seconds(fitted: float) -> Any:
        return pytest.approx(TFIDF_FIXED_SECONDS + TFIDF_FACTOR * fitted)

    # Whole: a vectorizer of each range on train and validation, four regressions of each on
    # train, the refit of pairs (the costlier, not yet chosen) on all of it, test vectorized.
    tuning = 1000 * (0.004 + 0.001) + 900 * 4 * (0.016 + 0.001)
    assert baseline_seconds(timed) == seconds(tuning + 1000 * 0.02 + 300 * 0.004)
    # Its two first settings by priority are single words alone: the refit too.
    assert baseline_seconds(timed, 2) == seconds(
        1000 * 0.001 + 900 * 2 * 0.001 + 1000 * 0.002 + 300 * 0.001
    )
    # Single words not timed (a profile from before they were): costed as pairs.
    untimed = _profile(**pairs)
    assert baseline_seconds(untimed) == seconds(
        1000 * 2 * 0.004 + 900 * 8 * 0.016 + 1000 * 0.02 + 300 * 0.004
    )
    assert baseline_seconds(untimed) > baseline_seconds(timed)
