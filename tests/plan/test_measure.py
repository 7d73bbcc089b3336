"""The machine's rates: measured through the trial's Trainer, cached by what decides them."""

from __future__ import annotations

import json

import pytest
import torch

from hpo.api import load_config
from hpo.plan import measure
from hpo.plan.measure import grid_for, measure_machine, timed_steps
from hpo.plan.rates import MachineRates


def rates(train: dict[int, float]) -> MachineRates:
    return MachineRates(
        key={}, train=train, eval=train, load_seconds=0.0, setup_seconds=0.0, measured_seconds=0.0
    )


def test_costs_between_lengths_follow_a_power_law() -> None:
    r = rates({128: 1.0, 256: 4.0})  # quadratic
    assert r.train_cost(192) == pytest.approx(1.0 * 1.5**2)
    assert r.train_cost(64) == 1.0  # below the shortest: a batch's fixed cost
    assert r.train_cost(512) == pytest.approx(16.0)  # the longest two's law, on
    assert rates({128: 2.0}).train_cost(256) == 4.0


def test_grid_and_steps() -> None:
    assert grid_for(100) == (16, 32, 64, 128)
    assert grid_for(128) == (16, 32, 64, 128)
    assert grid_for(600) == (16, 32, 64, 128, 192, 256, 512, 600)
    assert timed_steps(16) == timed_steps(32) == 8 and timed_steps(512) == 3


def test_rates_read_back_from_a_plan() -> None:
    made = MachineRates(
        key={"device": "cpu"},
        train={32: 0.01, 64: 0.02},
        eval={32: 0.001, 64: 0.002},
        load_seconds=2.0,
        setup_seconds=0.5,
        train_batch=8,
        eval_batch=32,
        measured_seconds=9.0,
    )
    again = MachineRates.from_dict(json.loads(json.dumps(made.to_dict())))
    assert again == made and again.train_batch == 8 and again.measured_seconds == 9.0


def test_monotone() -> None:
    assert measure.monotone({64: 2.0, 32: 1.0, 128: 1.5}) == {32: 1.0, 64: 2.0, 128: 2.0}


def test_measure_once_then_cached(make_config, monkeypatch) -> None:
    config = load_config(make_config())
    setup, cache = config.trainer_setup, config.data.cache_dir
    made = measure_machine(setup, ["neg", "pos"], (32, 64), cache_dir=cache)
    assert set(made.train) == {32, 64} and set(made.eval) == {32, 64}
    assert all(v > 0 for v in [*made.train.values(), *made.eval.values()])
    assert made.train[64] >= made.train[32]
    assert made.load_seconds > 0 and made.measured_seconds > 0
    assert made.key["device"].startswith(("cpu:", "cuda:"))
    if made.key["device"].startswith("cpu:"):  # the vector units tell two CPUs of one name apart
        assert made.key["device"].endswith(f":{torch.backends.cpu.get_cpu_capability()}")
    assert made.key["train_batch"] == 16 and made.key["eval_batch"] == 64

    calls = []
    real = measure._measure

    def counted(setup, labels, lengths):
        calls.append(list(lengths))
        return real(setup, labels, lengths)

    monkeypatch.setattr(measure, "_measure", counted)
    again = measure_machine(setup, ["neg", "pos"], (32, 64), cache_dir=cache)
    assert calls == [] and again == made  # the same machine: nothing measured
    assert again.measured_seconds == 0.0  # and nothing charged: this job did not spend it
    more = measure_machine(setup, ["neg", "pos"], (32, 64, 128), cache_dir=cache)
    assert calls == [[128]]  # only the length not measured before
    assert more.train[32] == made.train[32]
    assert more.measured_seconds > 0.0  # charged the one length it measured now
    short = measure_machine(setup, ["neg", "pos"], (32, 64), cache_dir=cache)
    assert calls == [[128]] and short.measured_seconds == 0.0
