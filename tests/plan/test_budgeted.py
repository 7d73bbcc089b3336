"""A budgeted run's pieces: the plan applied to a config, its clock, the final stage re-planned."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

from hpo.api import load_config
from hpo.plan.budgeted import StageClock, apply_plan, measured_rates, plan_budget, replan_final
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
    frozen = [SimpleNamespace(user_attrs=attrs) for attrs in trials]
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


def test_plan_budget_on_tiny_data(make_config) -> None:
    config = load_config(make_config({"study": {"budget": "3m"}}))
    planned, plan, profile = plan_budget(config, with_reference=False)
    assert plan.budget_seconds == 180
    assert profile.n_train == 480
    assert planned.data.max_length == 48  # the config's own
    assert plan.total_seconds <= 180
    assert {"profile", "machine", "cost_model"} <= set(plan.facts)
    # Deterministic: planned again (profile and machine cached), the same plan.
    assert plan_budget(config, with_reference=False)[1].to_dict() == plan.to_dict()
