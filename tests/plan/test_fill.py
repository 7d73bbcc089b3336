"""Filling the final stage's share: the longest length, then the most epochs, that fill it."""

from __future__ import annotations

from hpo.plan.fill import fill_share


def cost(length: int, epochs: float) -> float:
    """Seconds proportional to tokens read: ``length`` x ``epochs``."""
    return length * epochs


def test_the_longest_length_that_fills_the_share_then_the_most_epochs() -> None:
    # 400 s: 64 tokens x 6.25 epochs fills it exactly; 128 x 3.1 too, and is longer.
    assert fill_share(cost, [32, 64, 128], 1.0, 400.0) == (128, 3.1)
    # 100 s: 128 tokens hold less than one epoch, the fewest asked: 64 x 1.55.
    assert fill_share(cost, [32, 64, 128], 1.0, 100.0) == (64, 1.55)


def test_past_the_read_length_only_whole_epochs() -> None:
    # A part of train (a fifth of an epoch at least) is read at up to 128 tokens: 256 tokens
    # would fill 100 s with 0.35 of an epoch, but only a whole epoch may go past 128.
    assert fill_share(cost, [128, 256], 0.2, 100.0) == (128, 0.75)
    # Where a whole epoch fits there, the longer length.
    assert fill_share(cost, [128, 256], 0.2, 300.0) == (256, 1.15)
    # A length that is the first offered (yours) takes a part of an epoch at any length.
    assert fill_share(cost, [256], 0.05, 100.0) == (256, 0.35)


def test_nothing_fits_the_cheapest() -> None:
    # Not even the fewest epochs at the shortest length: that, for the deadline to cut.
    assert fill_share(cost, [64, 128], 1.0, 10.0) == (64, 1.0)


def test_nothing_fills_the_one_that_fills_most() -> None:
    # 10 epochs, the most, take 320 s at 32 tokens: 1,000 s is not filled by any; 64 x 10 is
    # the pair that fills most.
    assert fill_share(cost, [32, 64], 1.0, 1000.0) == (64, 10.0)


def test_a_longer_length_only_for_the_recipes_epochs() -> None:
    # 200 s: the recipe's 3 epochs fit at 32 tokens (96 s) and at 64 (192 s, filling it), so
    # the longer length is taken.
    assert fill_share(cost, [32, 64], 3.0, 200.0, floor=1.0) == (64, 3.1)
    # 150 s: 3 epochs fit only at 32; 64 tokens would fill it with 2.3, fewer than the
    # recipe's, so the shortest length keeps its epochs and takes more (4.65).
    assert fill_share(cost, [32, 64], 3.0, 150.0, floor=1.0) == (32, 4.65)
    # Without a floor, the recipe's epochs are the least anywhere (the cheapest: 32 x 3).
    assert fill_share(cost, [32, 64], 3.0, 50.0) == (32, 3.0)
    # 50 s with the floor: 32 tokens for 1.55 epochs, what fits.
    assert fill_share(cost, [32, 64], 3.0, 50.0, floor=1.0) == (32, 1.55)
