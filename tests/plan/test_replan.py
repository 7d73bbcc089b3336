"""Re-planning as a budgeted run goes: the search's end and the final stage's epochs, from what
the run measured."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from plans import stub_plan, stub_profile, stub_study

from hpo.plan import replan
from hpo.plan.budgeted import StageClock
from hpo.plan.check import RateCheck
from hpo.plan.rates import MachineRates
from hpo.plan.replan import (
    final_epochs,
    final_length,
    final_machine,
    final_stop_by,
    measured_rates,
    planned_epochs,
    rates_at,
    replan_final,
    search_deadline,
)

#: A plan's facts for a final stage that keeps its best point: 3 epochs planned at 0.01 s a
#: training example and 0.001 s a scored one.
KEEP_BEST = {
    "cost_model": {
        "load_seconds": 1.0,
        "train_seconds_per_example": 0.01,
        "eval_seconds_per_example": 0.001,
    },
    "final_holdout": True,
    "final_keep_best": True,
    "final_epochs": 3,
}


def test_the_final_stage_is_replanned_from_what_the_trials_measured(tmp_path: Path) -> None:
    # Trials trained at 0.01 s and scored at 0.001 s an example.
    attrs = {"samples_trained": 1000, "step_seconds": 10.0, "samples_scored": 1000}
    study = stub_study([attrs | {"eval_seconds": 1.0}])
    assert measured_rates(study) == (0.01, 0.001)
    assert measured_rates(stub_study([{}])) is None
    profile = stub_profile(n_final=10_000, n_test=1000)  # 100 s an epoch, 1 s to score
    # 600 s left: three epochs (301 s) fit as planned.
    clock = StageClock(tmp_path / "plan.json", stub_plan(600), started=time.time())
    kwargs = {"evals_per_epoch": 2, "profile": profile, "retrains": 1}
    assert replan_final(clock, study, stop_epoch=3.0, **kwargs) == 3.0
    # 210 s left (less 10 s for the baselines and report): 1.5 epochs, the last point that fits.
    clock = StageClock(tmp_path / "plan.json", stub_plan(600), started=time.time() - 395)
    stop = replan_final(clock, study, stop_epoch=3.0, **kwargs)
    assert stop == 1.5
    assert "stops at epoch 1.5 instead of the best trial's peak 3" in clock.events[0]


def test_the_search_deadline_moves_with_the_trials_rates(tmp_path: Path) -> None:
    started = time.time()
    clock = StageClock(tmp_path / "plan.json", stub_plan(600), started=started)
    profile = stub_profile(n_final=100, n_test=50)
    # No trial measured yet: the plan's own deadline.
    assert search_deadline(clock, stub_study([]), profile, retrains=1) == started + 200
    # Trials at 1 s a training example and 0.2 s a scored one: the final stage (3 epochs
    # planned) takes 1 + 300 + 10 s, and 10 s follow it, of 600 less the 4% margin.
    study = stub_study(
        [{"samples_trained": 10, "step_seconds": 10.0, "samples_scored": 10, "eval_seconds": 2.0}]
    )
    assert search_deadline(clock, study, profile, retrains=1) == pytest.approx(
        started + 576 - 311 - 10
    )
    assert planned_epochs(clock.plan) == 3.0


def test_a_final_stage_that_keeps_its_best_point_takes_the_time_left(tmp_path: Path) -> None:
    """Time left over goes to more epochs (in twentieths of an epoch); a slower machine than
    planned gets fewer, and the clock says so."""
    facts = KEEP_BEST
    profile = stub_profile(n_final=10_000, n_test=1000)  # 100 s an epoch at the planned rate
    # No search: the plan's own rates. 588 s left less 10 s for what follows: 5.75 epochs.
    clock = StageClock(tmp_path / "plan.json", stub_plan(600, **facts), started=time.time())
    assert final_epochs(clock, None, profile=profile, retrains=1) == 5.75
    assert "5.75 epoch(s) instead of the planned 3" in clock.events[0]
    # Trials measured twice the planned training time: 2.85 epochs fit.
    slow = stub_study(
        [
            {
                "samples_trained": 1000,
                "step_seconds": 20.0,
                "samples_scored": 1000,
                "eval_seconds": 1.0,
            }
        ]
    )
    clock = StageClock(tmp_path / "plan.json", stub_plan(600, **facts), started=time.time())
    assert final_epochs(clock, slow, profile=profile, retrains=1) == 2.85
    # Exactly the plan's: no note.
    clock = StageClock(tmp_path / "plan.json", stub_plan(320, **facts), started=time.time())
    assert final_epochs(clock, None, profile=profile, retrains=1) == 3.0
    assert clock.events == []


def final_rates(setup, clock, profile, *, length: int, batch: int) -> tuple[float, float] | None:
    """The final stage's (training, scoring) seconds an example, timed as a run times them."""
    seen = final_machine(setup, clock, profile, length=length, batch=batch)
    return None if seen is None else rates_at(setup, profile, seen, length=length, batch=batch)


def test_the_final_stage_times_itself_at_its_own_batch_before_its_epochs(
    tmp_path: Path, monkeypatch
) -> None:
    """Its epochs come from its own rates, measured at its batch and length when it starts:
    here half the plan's training cost per example (a batch twice the machine's measured one)."""
    machine = MachineRates(
        key={},
        train={16: 0.01, 64: 0.01},
        eval={16: 0.001, 64: 0.001},
        load_seconds=1.0,
        setup_seconds=0.0,
        train_batch=16,
    )
    facts = {**KEEP_BEST, "machine": machine.to_dict()}
    seen = []

    def check(setup, profile, rates, length, *, batch):
        seen.append((length, batch, rates.train_batch))
        return RateCheck(length, 0.5, 1.0, 10, 3.0)

    monkeypatch.setattr(replan, "check_rates", check)
    setup = SimpleNamespace(training={})
    profile = dataclasses.replace(stub_profile(10_000, 1000), train_lengths=(10, 20, 30, 40))
    clock = StageClock(tmp_path / "plan.json", stub_plan(600, **facts), started=time.time())
    rates = final_rates(setup, clock, profile, length=32, batch=32)
    assert seen == [(32, 32, 16)]
    assert rates == pytest.approx((0.005, 0.001))
    assert "timed at batch 32 and 32 tokens" in clock.events[0]
    assert "training 0.50x" in clock.events[0]
    # 578 s at 0.005 s an example hold 10 epochs, the most (the plan's rates held 5.75); the
    # note says the rest is left unspent.
    assert final_epochs(clock, None, profile=profile, retrains=1, rates=rates) == 10.0
    assert "at its most, 10 epochs" in clock.events[-1]
    # Scoring 1,000 test examples at the rates measured now: stop 1 s before the budget's end
    # less the 10 s that follow.
    assert final_stop_by(clock, None, profile=profile, rates=(0.005, 0.001)) == pytest.approx(
        clock.started + 588 - 1 - 10, abs=1
    )
    # A plan that timed this length and batch already (no search: the strong default's): its
    # check is used again, nothing is timed twice.
    monkeypatch.setattr(replan, "check_rates", None)
    checked = {**facts, "checks": [RateCheck(32, 0.5, 2.0, 10, 3.0, batch=32).to_dict()]}
    clock = StageClock(tmp_path / "plan.json", stub_plan(600, **checked), started=time.time())
    assert final_rates(setup, clock, profile, length=32, batch=32) == pytest.approx((0.005, 0.002))
    assert "timed at batch 32 and 32 tokens when planned" in clock.events[0]
    # A plan with no machine measurement (made elsewhere): nothing to time against.
    bare = StageClock(tmp_path / "bare.json", stub_plan(600), started=time.time())
    assert final_rates(setup, bare, profile, length=32, batch=32) is None


def test_the_final_stage_stops_by_the_time_that_leaves_its_scoring_and_what_follows(
    tmp_path: Path,
) -> None:
    facts = {
        "cost_model": {"train_seconds_per_example": 0.01, "eval_seconds_per_example": 0.002},
        "final_holdout": True,
        "final_keep_best": True,
    }
    started = time.time()
    clock = StageClock(tmp_path / "plan.json", stub_plan(600, **facts), started=started)
    # 588 s of budget (less half the margin), 10 s for the baselines and the report, 1,000 test
    # examples scored at 0.002 s: training stops by 576 s after the start.
    profile = stub_profile(n_final=10_000, n_test=1000)
    assert final_stop_by(clock, None, profile=profile) == pytest.approx(started + 576.0)


def test_a_final_stage_with_no_search_chooses_its_length_again_from_the_time_left(
    tmp_path: Path,
) -> None:
    """Planned at 32 tokens against allowances; started with 578 s left (less 10 s for what
    follows), at the rates it timed: the recipe's 3 epochs of 10,000 texts fit at 64 tokens
    (300 s), not at 128 (600 s); where they fit at no length, the fewest planned (1). Never
    shorter than the plan's, and the plan's where nothing else is listed."""
    seen = MachineRates(
        key={},
        train={32: 0.005, 64: 0.01, 128: 0.02},
        eval={32: 0.0001, 64: 0.0001, 128: 0.0001},
        load_seconds=1.0,
        setup_seconds=0.0,
        train_batch=32,
    )
    setup = SimpleNamespace(training={})
    profile = dataclasses.replace(stub_profile(10_000, 1000), train_lengths=(200,) * 10)
    facts = {
        **KEEP_BEST,
        "cost_model": {**KEEP_BEST["cost_model"], "length": 32},
        "final_lengths": [32, 64, 128],
        "final_least_epochs": [3.0, 1.0],
    }

    def length(budget: float, seen: MachineRates | None = seen, **more) -> tuple[int, list]:
        plan = stub_plan(budget, **facts | more)
        clock = StageClock(tmp_path / "plan.json", plan, started=time.time())
        return final_length(setup, clock, profile, seen, batch=32, retrains=1), clock.events

    chosen, events = length(600)
    assert chosen == 64
    assert "64 tokens instead of the planned 32" in events[0]
    # 284 s left: 3 epochs fit only at 32 tokens (150 s); nothing to note.
    assert length(300) == (32, [])
    # 127 s left: 3 epochs fit at no length; the fewest planned (1) fit at 32 and at 64 (1.25
    # would fill it), but a longer length is not taken for fewer than the recipe's epochs: the
    # plan's length, whose epochs the time left then raises.
    assert length(140) == (32, [])
    # Slower than even that: the plan's length, never a shorter one.
    assert length(100, cost_model={**facts["cost_model"], "length": 64}) == (64, [])
    # Tokenizing 11,000 texts at 0.03 s each (330 s) comes first: 64 tokens no longer fit.
    slow = dataclasses.replace(profile, tokenize_seconds_per_example=0.03)
    plan = stub_plan(600, **facts)
    clock = StageClock(tmp_path / "plan.json", plan, started=time.time())
    assert final_length(setup, clock, slow, seen, batch=32, retrains=1) == 32
    # Your length (the plan lists none to choose), or no rates timed: the plan's.
    assert length(600, final_lengths=[]) == (32, [])
    assert length(600, seen=None) == (32, [])
