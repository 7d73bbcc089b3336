"""The check of the machine's cached rates: a few real steps now, on the data's length mix."""

from __future__ import annotations

import pytest

from hpo.api import load_config
from hpo.plan import check as check_module
from hpo.plan.check import (
    MAX_STEPS,
    MIN_STEPS,
    TOLERANCE,
    RateCheck,
    batch_lengths,
    check_rates,
    check_seconds,
    check_steps,
    rates_seen_now,
)
from hpo.plan.measure import MachineRates, measure_machine
from hpo.plan.profile import profile_data
from hpo.train.model import load_tokenizer


def _rates(per_example: float) -> MachineRates:
    points = {32: per_example, 64: 2 * per_example}
    return MachineRates(key={}, train=points, eval=points, load_seconds=1.0, setup_seconds=0.5)


def test_steps_aim_at_a_fixed_time_within_bounds() -> None:
    assert check_steps(_rates(1e-4), 32) == MAX_STEPS  # short steps: the most
    assert check_steps(_rates(10.0), 64) == MIN_STEPS  # long steps: the fewest
    middle = check_steps(_rates(0.05), 32)  # 0.8 s a step of 16: 25 steps for 20 s
    assert MIN_STEPS < middle < MAX_STEPS
    # At a batch twice the rates' own, a step is twice as long: half the steps.
    assert check_steps(_rates(0.05), 32, batch=32) == pytest.approx(middle / 2, abs=1)
    # Planned from the rates, not from the clock: the same rates, the same seconds.
    assert check_seconds(_rates(0.05), 32) == check_seconds(_rates(0.05), 32)
    assert check_seconds(_rates(0.05), 64) > check_seconds(_rates(0.05), 32)


def test_batches_follow_the_data_cut_at_the_length(make_config) -> None:
    config = load_config(make_config())
    profile = profile_data(config.data, load_tokenizer(config.model))
    grouped = batch_lengths(profile, 20, 8, 5, grouped=True, seed=1)
    assert len(grouped) == 5 and all(len(b) == 8 for b in grouped)
    assert max(max(b) for b in grouped) <= 20
    flat = sorted(n for b in grouped for n in b)
    assert set(flat) <= {min(n, 20) for n in profile.train_lengths}
    # Grouped: each batch holds a run of the sorted lengths (little padding); at random the
    # batches mix lengths, so their padded cost is higher.
    padded = {
        g: sum(len(b) * max(b) for b in batch_lengths(profile, 40, 8, 20, grouped=g, seed=2))
        for g in (True, False)
    }
    assert padded[True] < padded[False]
    assert batch_lengths(profile, 20, 8, 5, grouped=True, seed=1) == grouped  # seeded


def test_applies_only_outside_the_tolerance() -> None:
    assert not RateCheck(64, 1.0, 1.0, 6, 1.0).applies
    assert not RateCheck(64, 1 + TOLERANCE / 2, 1 - TOLERANCE / 2, 6, 1.0).applies
    assert RateCheck(64, 1 + 2 * TOLERANCE, 1.0, 6, 1.0).applies
    assert RateCheck(64, 1.0, 1 - 2 * TOLERANCE, 6, 1.0).applies
    assert RateCheck(64, 1.5, 1.0, 6, 1.0).to_dict()["applied"] is True


def test_check_runs_real_steps_against_the_cached_rates(make_config, monkeypatch) -> None:
    config = load_config(make_config())
    profile = profile_data(config.data, load_tokenizer(config.model))
    setup = config.trainer_setup
    rates = measure_machine(setup, profile.labels, (16, 32, 64), cache_dir=config.data.cache_dir)
    check = check_rates(setup, profile, rates, 32)
    assert check.length == 32 and check.steps == check_steps(rates, 32)
    assert check.train_ratio > 0 and check.eval_ratio > 0
    # Against rates ten times too fast, the check sees a machine ten times slower than them.
    fast = rates.scaled(0.1, 0.1)
    assert fast.train[32] == pytest.approx(rates.train[32] / 10)
    slow = check_rates(setup, profile, fast, 32)
    assert slow.train_ratio > 3 and slow.applies
    # At another batch than the rates' (the final stage's own), its steps are of that batch.
    seen = []
    monkeypatch.setattr(check_module, "time_steps", _spy(check_module.time_steps, seen))
    other = check_rates(setup, profile, rates, 32, batch=4)
    assert seen == [4] and other.steps == check_steps(rates, 32, batch=4)


def _spy(time_steps, seen: list[int]):
    def spied(*args, batch: int, **kwargs):
        seen.append(batch)
        return time_steps(*args, batch=batch, **kwargs)

    return spied


def test_rates_seen_now_scale_by_length() -> None:
    points = {32: 1.0, 64: 2.0, 128: 4.0, 256: 8.0}
    rates = MachineRates(key={}, train=points, eval=points, load_seconds=1.0, setup_seconds=0.0)
    assert rates_seen_now(rates, [RateCheck(64, 1.05, 0.95, 6, 1.0)]) is rates  # within
    checks = [RateCheck(64, 0.5, 2.0, 6, 1.0), RateCheck(256, 0.9, 1.0, 6, 1.0)]
    seen = rates_seen_now(rates, checks)
    assert seen.train[32] == 0.5 and seen.train[64] == 1.0  # the outermost check's own ratio
    assert seen.train[128] == pytest.approx(4.0 * (0.5 + 0.4 * 64 / 192))  # on the line
    # Once one check is outside the tolerance, every check's own ratio counts (a ratio of 1
    # for the checks inside it would put a step into the costs).
    assert seen.train[256] == pytest.approx(8.0 * 0.9)
    assert seen.eval[64] == 4.0 and seen.eval[32] == 2.0
    assert list(seen.train.values()) == sorted(seen.train.values())  # still monotone
