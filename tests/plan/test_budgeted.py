"""A budgeted run's pieces: the plan applied to a config, its clock, the final stage re-planned."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from hpo.api import load_config
from hpo.plan import budgeted
from hpo.plan.budgeted import (
    StageClock,
    apply_plan,
    measured_rates,
    plan_budget,
    planned_epochs,
    replan_final,
    search_deadline,
)
from hpo.plan.check import RateCheck
from hpo.plan.decision import Choice, Plan, StagePlan
from hpo.plan.profile import DataProfile


def _plan(budget: float = 600.0, **facts) -> Plan:
    return Plan(
        budget_seconds=budget,
        choices=(
            Choice("data.max_length", 32, "planner"),
            Choice(
                "search_space.num_train_epochs", {"type": "int", "low": 1, "high": 3}, "planner"
            ),
            Choice("study.n_trials", 2, "you"),
        ),
        stages=(
            StagePlan("search", "", 100.0),
            StagePlan("final", "", 100.0),
            StagePlan("baselines", "", 5.0),
            StagePlan("report", "", 5.0),
        ),
        search_ends_at=200,
        shortest_trial_seconds=10,
        facts={"cost_model": {"load_seconds": 1.0}, **facts},
    )


def test_apply_plan_sets_the_planners_keys_only(make_config, delete) -> None:
    config = load_config(
        make_config({"search_space": {"num_train_epochs": delete}}), check_training=False
    )
    planned = apply_plan(config, _plan())
    assert planned.data.max_length == 32
    assert planned.search_space["num_train_epochs"].high == 3
    assert planned.study.n_trials == config.study.n_trials  # the user's, untouched
    assert planned.explicit == config.explicit
    assert "data.max_length" in planned.explicit  # still the file's own key, as written


def test_clock_writes_planned_and_actual(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    clock = StageClock(path, _plan(), started=time.time() - 3)
    with clock.stage("search"):
        pass
    clock.note("cut")
    record = json.loads(path.read_text())
    assert record["actual_seconds"]["prepare"] >= 3
    assert "search" in record["actual_seconds"]
    assert record["events"] == ["cut"]
    assert record["elapsed_seconds"] >= 3


def _study(trials: list[dict]) -> SimpleNamespace:
    frozen = [SimpleNamespace(number=i, params={}, user_attrs=a) for i, a in enumerate(trials)]
    return SimpleNamespace(get_trials=lambda deepcopy=False, states=(): frozen)


def _profile(n_final: int, n_test: int) -> DataProfile:
    return DataProfile(
        n_train=n_final,
        n_validation=0,
        n_final_train=n_final,
        n_test=n_test,
        labels=("a", "b"),
        class_counts=(1, 1),
        pairs=False,
        train_lengths=(),
        length_percentiles={},
        mean_chars=0.0,
        tokenize_seconds_per_example=0.0,
    )


def test_the_final_stage_is_replanned_from_what_the_trials_measured(tmp_path: Path) -> None:
    # Trials trained at 0.01 s and scored at 0.001 s an example.
    attrs = {"samples_trained": 1000, "step_seconds": 10.0, "samples_scored": 1000}
    study = _study([attrs | {"eval_seconds": 1.0}])
    assert measured_rates(study) == (0.01, 0.001)
    assert measured_rates(_study([{}])) is None
    profile = _profile(n_final=10_000, n_test=1000)  # 100 s an epoch, 1 s to score
    # 600 s left: three epochs (301 s) fit as planned.
    clock = StageClock(tmp_path / "plan.json", _plan(600), started=time.time())
    kwargs = {"evals_per_epoch": 2, "profile": profile, "retrains": 1}
    assert replan_final(clock, study, stop_epoch=3.0, **kwargs) == 3.0
    # 210 s left (less 10 s for the baselines and report): 1.5 epochs, the last point that fits.
    clock = StageClock(tmp_path / "plan.json", _plan(600), started=time.time() - 395)
    stop = replan_final(clock, study, stop_epoch=3.0, **kwargs)
    assert stop == 1.5
    assert "stops at epoch 1.5 instead of the best trial's peak 3" in clock.events[0]


def test_plan_budget_on_tiny_data(make_config, monkeypatch, tmp_path: Path) -> None:
    config = load_config(make_config({"study": {"budget": "3m"}}))
    planned, plan, profile = plan_budget(config, with_reference=False)
    assert plan.budget_seconds == 180
    assert profile.n_train == 480
    assert planned.data.max_length == 48  # the config's own
    assert plan.total_seconds <= 180
    assert {"profile", "machine", "cost_model", "checks", "inputs"} <= set(plan.facts)
    (check,) = plan.facts["checks"]  # the user's length: the only one the plan can pick
    assert check["length"] == 48 and check["steps"] >= 6
    # Deterministic: planned again (profile and machine cached) with the same check of the
    # machine, the same plan.
    fixed = RateCheck(48, 1.0, 1.0, steps=6, seconds=1.0)
    monkeypatch.setattr(budgeted, "check_rates", lambda *a: fixed)
    once = plan_budget(config, with_reference=False)[1].to_dict()
    assert plan_budget(config, with_reference=False)[1].to_dict() == once


def test_a_check_far_from_the_measurement_rescales_the_rates(make_config, monkeypatch) -> None:
    config = load_config(make_config({"study": {"budget": "3m"}}))
    checks = {"same": RateCheck(48, 1.0, 1.0, 6, 1.0), "slow": RateCheck(48, 2.0, 1.5, 6, 1.0)}
    costs = {}
    for name, check in checks.items():
        monkeypatch.setattr(budgeted, "check_rates", lambda *a, c=check: c)
        plan = plan_budget(config, with_reference=False)[1]
        costs[name] = plan.facts["cost_model"]
        assert plan.facts["checks"][0]["applied"] is (name == "slow")
    assert costs["slow"]["train_seconds_per_example"] == pytest.approx(
        2.0 * costs["same"]["train_seconds_per_example"]
    )
    assert costs["slow"]["eval_seconds_per_example"] == pytest.approx(
        1.5 * costs["same"]["eval_seconds_per_example"]
    )
    # Within the tolerance the cached rates stand.
    monkeypatch.setattr(budgeted, "check_rates", lambda *a: RateCheck(48, 1.1, 0.9, 6, 1.0))
    near = plan_budget(config, with_reference=False)[1].facts["cost_model"]
    assert near == costs["same"]


def test_a_rerun_uses_the_plan_it_was_started_with(make_config, monkeypatch, tmp_path) -> None:
    config = load_config(make_config({"study": {"budget": "3m"}}))
    saved = tmp_path / "plan.json"
    _, plan, _ = plan_budget(config, with_reference=False, saved=saved)
    StageClock(saved, plan, started=time.time())  # what a run writes

    def no_check(*args):
        raise AssertionError("a saved plan needs no check of the machine")

    monkeypatch.setattr(budgeted, "check_rates", no_check)
    again, reused, _ = plan_budget(config, with_reference=False, saved=saved)
    written = json.loads(json.dumps(plan.to_dict()))
    assert [vars(c) for c in reused.choices] == written["choices"]
    assert [vars(st) for st in reused.stages] == written["stages"]
    assert reused.search_ends_at == pytest.approx(plan.search_ends_at, abs=0.1)
    assert again.study.n_trials == plan.value("study.n_trials")
    # Another budget (or any other input) is planned afresh.
    monkeypatch.setattr(budgeted, "check_rates", lambda *a: RateCheck(48, 1.0, 1.0, 6, 1.0))
    other = load_config(make_config({"study": {"budget": "4m"}}))
    fresh = plan_budget(other, with_reference=False, saved=saved)[1]
    assert fresh.budget_seconds == 240
    # A broken plan.json is planned afresh too, not an error.
    saved.write_text("{not json")
    assert plan_budget(config, with_reference=False, saved=saved)[1].budget_seconds == 180


def test_the_search_deadline_moves_with_the_trials_rates(tmp_path: Path) -> None:
    started = time.time()
    clock = StageClock(tmp_path / "plan.json", _plan(600), started=started)
    profile = _profile(n_final=100, n_test=50)
    # No trial measured yet: the plan's own deadline.
    assert search_deadline(clock, _study([]), profile, retrains=1) == started + 200
    # Trials at 1 s a training example and 0.2 s a scored one: the final stage (3 epochs
    # planned) takes 1 + 300 + 10 s, and 10 s follow it, of 600 less the 4% margin.
    study = _study(
        [{"samples_trained": 10, "step_seconds": 10.0, "samples_scored": 10, "eval_seconds": 2.0}]
    )
    assert search_deadline(clock, study, profile, retrains=1) == pytest.approx(
        started + 576 - 311 - 10
    )
    assert planned_epochs(clock.plan) == 3.0


def test_a_final_stage_that_keeps_its_best_point_takes_the_time_left(tmp_path: Path) -> None:
    """Time left over goes to more epochs (in twentieths of an epoch); a slower machine than
    planned gets fewer, and the clock says so."""
    from hpo.plan.budgeted import final_epochs

    facts = {
        "cost_model": {
            "load_seconds": 1.0,
            "train_seconds_per_example": 0.01,
            "eval_seconds_per_example": 0.001,
        },
        "final_holdout": True,
        "final_keep_best": True,
        "final_epochs": 3,
    }
    profile = _profile(n_final=10_000, n_test=1000)  # 100 s an epoch at the planned rate
    # No search: the plan's own rates. 588 s left less 10 s for what follows: 5.75 epochs.
    clock = StageClock(tmp_path / "plan.json", _plan(600, **facts), started=time.time())
    assert final_epochs(clock, None, profile=profile, retrains=1) == 5.75
    assert "5.75 epoch(s) instead of the planned 3" in clock.events[0]
    # Trials measured twice the planned training time: 2.85 epochs fit.
    slow = _study(
        [
            {
                "samples_trained": 1000,
                "step_seconds": 20.0,
                "samples_scored": 1000,
                "eval_seconds": 1.0,
            }
        ]
    )
    clock = StageClock(tmp_path / "plan.json", _plan(600, **facts), started=time.time())
    assert final_epochs(clock, slow, profile=profile, retrains=1) == 2.85
    # Exactly the plan's: no note.
    clock = StageClock(tmp_path / "plan.json", _plan(320, **facts), started=time.time())
    assert final_epochs(clock, None, profile=profile, retrains=1) == 3.0
    assert clock.events == []


def test_the_final_stage_stops_by_the_time_that_leaves_its_scoring_and_what_follows(
    tmp_path: Path,
) -> None:
    from hpo.plan.budgeted import final_stop_by

    facts = {
        "cost_model": {"train_seconds_per_example": 0.01, "eval_seconds_per_example": 0.002},
        "final_holdout": True,
        "final_keep_best": True,
    }
    started = time.time()
    clock = StageClock(tmp_path / "plan.json", _plan(600, **facts), started=started)
    # 588 s of budget (less half the margin), 10 s for the baselines and the report, 1,000 test
    # examples scored at 0.002 s: training stops by 576 s after the start.
    profile = _profile(n_final=10_000, n_test=1000)
    assert final_stop_by(clock, None, profile=profile) == pytest.approx(started + 576.0)
