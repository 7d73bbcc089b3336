"""Arms run at several training seeds: the runs' names, and what the seeds say."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))


def test_seeds_are_read_from_the_command_line() -> None:
    from _seeds import arm_of, parse_seeds, run_name, seed_of

    assert parse_seeds(None) == [None]
    assert parse_seeds("42,43,7") == [42, 43, 7]
    with pytest.raises(ValueError, match="'x' is not a whole number"):
        parse_seeds("42,x")
    with pytest.raises(ValueError, match="seed 42 is given twice"):
        parse_seeds("42,43,42")
    assert run_name("v1", 43) == "v1@43" and run_name("a", None) == "a"
    assert (arm_of("v1@43"), seed_of("v1@43")) == ("v1", 43)
    assert (arm_of("a"), seed_of("a")) == ("a", None)


def test_the_sign_flip_p_is_exact() -> None:
    from _seeds import sign_flip_p

    # Two seeds that agree: two of the four sign flips are as far from zero.
    assert sign_flip_p([0.01, 0.02]) == 0.5
    # Five that agree: only the observed signs and their mirror, 2 of 32.
    assert sign_flip_p([0.01, 0.02, 0.005, 0.01, 0.03]) == pytest.approx(2 / 32)
    # Differences that cancel tell nothing.
    assert sign_flip_p([0.01, -0.01]) == 1.0
    # One seed against: the flips of the small ones reach as far.
    assert sign_flip_p([0.03, 0.02, 0.01, -0.001, 0.02]) == pytest.approx(4 / 32)
    assert sign_flip_p([]) is None


def test_across_seeds_pairs_each_arm_with_its_base_at_the_same_seed() -> None:
    from _seeds import across_seeds

    rows = {
        "a@1": {"tuned_accuracy": 0.90, "shipped_accuracy": 0.92},
        "b@1": {"tuned_accuracy": 0.93, "shipped_accuracy": 0.94},
        "a@2": {"tuned_accuracy": 0.91, "shipped_accuracy": 0.92},
        "b@2": {"tuned_accuracy": 0.92, "shipped_accuracy": 0.95},
        "a@3": {"exit_code": 1},  # failed: left out
        "b@3": {"tuned_accuracy": 0.80, "shipped_accuracy": 0.90},
    }
    spread = across_seeds(rows, {"b": "a"})
    tuned = spread["b"]["tuned"]
    assert tuned["by_seed"] == {1: 0.93, 2: 0.92, 3: 0.80}
    assert tuned["range"] == [0.80, 0.93]
    assert tuned["mean"] == pytest.approx((0.93 + 0.92 + 0.80) / 3)
    against = tuned["minus_a"]
    assert against["by_seed"] == pytest.approx({1: 0.03, 2: 0.01})  # seed 3: (a) failed
    assert against["mean"] == pytest.approx(0.02)
    assert against["sign_flip_p"] == 0.5
    assert spread["b"]["shipped"]["minus_a"]["mean"] == pytest.approx(0.025)
    assert "minus_b" not in spread["a"]["tuned"]  # (a) is nobody's base's arm here
    assert spread["a"]["tuned"]["by_seed"] == {1: 0.90, 2: 0.91}
