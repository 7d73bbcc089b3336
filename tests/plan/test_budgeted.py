"""A budgeted run's pieces: the plan made and applied to a config, its clock."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from plans import stub_plan

from hpo.api import load_config
from hpo.plan import budgeted
from hpo.plan.budgeted import StageClock, apply_plan, check_lengths, plan_budget
from hpo.plan.check import RateCheck


def test_apply_plan_sets_the_planners_keys_only(make_config, delete) -> None:
    config = load_config(
        make_config({"search_space": {"num_train_epochs": delete}}), check_training=False
    )
    raw = config.to_dict()
    planned = apply_plan(raw, stub_plan(), source=config.source, explicit=config.explicit)
    assert planned.data.max_length == 32
    assert planned.search_space["num_train_epochs"].high == 3
    assert planned.study.n_trials == config.study.n_trials  # the user's, untouched
    assert planned.explicit == config.explicit
    assert raw == config.to_dict()  # the caller's mapping is left as it was
    assert "data.max_length" in planned.explicit  # still the file's own key, as written


def test_clock_writes_planned_and_actual(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    clock = StageClock(path, stub_plan(), started=time.time() - 3)
    with clock.stage("search"):
        pass
    clock.note("cut")
    record = json.loads(path.read_text())
    assert record["actual_seconds"]["prepare"] >= 3
    assert "search" in record["actual_seconds"]
    assert record["events"] == ["cut"]
    assert record["elapsed_seconds"] >= 3


def test_a_later_part_of_the_job_goes_on_from_the_clock_before_it(tmp_path: Path) -> None:
    path, started = tmp_path / "plan.json", time.time() - 100
    search = StageClock(path, stub_plan(), started=started)
    search.actual["search"] = 60.0
    search.note("cut")
    final = StageClock(path, stub_plan(), started=started, resumed=True)
    assert final.actual["search"] == 60.0 and final.events == ["cut"]
    # Another job's plan.json (another start) is not carried over.
    other = StageClock(path, stub_plan(), started=started + 50, resumed=True)
    assert "search" not in other.actual and other.events == []


def test_plan_budget_on_tiny_data(make_config, delete, monkeypatch, tmp_path: Path) -> None:
    # Trials and epochs left to the plan: no search (60 validation examples), and a final
    # stage that keeps its best point.
    config = load_config(
        make_config(
            {
                "study": {"budget": "3m", "n_trials": delete},
                "search_space": {"num_train_epochs": delete},
            }
        )
    )
    planned, plan, profile = plan_budget(config, with_reference=False)
    assert plan.budget_seconds == 180
    assert profile.n_train == 480
    assert planned.data.max_length == 48  # the config's own
    assert plan.total_seconds <= 180
    assert {"profile", "machine", "cost_model", "checks", "inputs"} <= set(plan.facts)
    # The user's length, the only one the plan can pick, at the strong default's batch, which
    # the final stage trains: 60 validation examples rule a search out whatever the machine's
    # speed, so nothing trains at the search's smallest batch and it is not checked.
    (final,) = plan.facts["checks"]
    assert final["length"] == 48 and final["steps"] >= 6 and final["batch"] == 32
    assert not plan.facts["search"]["chosen"] and not plan.facts["search"]["by_rates"]
    # Deterministic: planned again (profile and machine cached) with the same check of the
    # machine, the same plan.
    monkeypatch.setattr(budgeted, "check_rates", _checks(RateCheck(48, 1.0, 1.0, 6, 1.0)))
    once = plan_budget(config, with_reference=False)[1].to_dict()
    assert plan_budget(config, with_reference=False)[1].to_dict() == once
    # The strong default's batch timed at 200 times the cost an example: fewer epochs fit.
    monkeypatch.setattr(budgeted, "check_rates", _checks(RateCheck(48, 1.0, 1.0, 6, 1.0), 200.0))
    slower = plan_budget(config, with_reference=False)[1]
    assert slower.facts["final_epochs"] < once["final_epochs"]


def test_a_search_the_rates_decide_checks_the_measured_batch(
    make_config, delete, monkeypatch
) -> None:
    # Trials you set (2): the machine's speed sizes the search, so the plan checks the batch
    # the machine was measured at; the final stage trains the search's best, at its batch.
    config = load_config(make_config({"study": {"budget": "3m"}}))
    seen: list[int | None] = []

    def check(config, profile, rates, length, *, batch=None) -> RateCheck:
        seen.append(batch)
        return RateCheck(length, 1.0, 1.0, 6, 1.0, batch or 16)

    monkeypatch.setattr(budgeted, "check_rates", check)
    plan = plan_budget(config, with_reference=False)[1]
    assert plan.facts["search"]["chosen"] and plan.facts["search"]["by_rates"]
    assert seen == [None]
    # No search at your word: only the strong default's batch, which the final stage trains.
    none = load_config(
        make_config(
            {"study": {"budget": "3m", "n_trials": 0}, "search_space": {"num_train_epochs": delete}}
        )
    )
    seen.clear()
    plan = plan_budget(none, with_reference=False)[1]
    assert not plan.facts["search"]["chosen"] and not plan.facts["search"]["by_rates"]
    assert seen == [32]


def _checks(first: RateCheck, final: float = 1.0):
    """``check_rates`` faked: ``first`` at the plan's lengths; at the final stage's batch,
    training at ``final`` times the rates."""

    def check(config, profile, rates, length, *, batch=None) -> RateCheck:
        if batch is None:
            return first
        return dataclasses.replace(first, train_ratio=final, eval_ratio=1.0, batch=batch)

    return check


def test_a_check_far_from_the_measurement_rescales_the_rates(make_config, monkeypatch) -> None:
    config = load_config(make_config({"study": {"budget": "3m"}}))
    checks = {"same": RateCheck(48, 1.0, 1.0, 6, 1.0), "slow": RateCheck(48, 2.0, 1.5, 6, 1.0)}
    costs = {}
    for name, check in checks.items():
        monkeypatch.setattr(budgeted, "check_rates", _checks(check))
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
    monkeypatch.setattr(budgeted, "check_rates", _checks(RateCheck(48, 1.1, 0.9, 6, 1.0)))
    near = plan_budget(config, with_reference=False)[1].facts["cost_model"]
    assert near == costs["same"]


def test_a_rerun_uses_the_plan_it_was_started_with(make_config, monkeypatch, tmp_path) -> None:
    config = load_config(make_config({"study": {"budget": "3m"}}))
    saved = tmp_path / "plan.json"
    _, plan, _ = plan_budget(config, with_reference=False, saved=saved)
    StageClock(saved, plan, started=time.time())  # what a run writes

    def no_check(*args, **kwargs):
        raise AssertionError("a saved plan needs no check of the machine")

    monkeypatch.setattr(budgeted, "check_rates", no_check)
    again, reused, _ = plan_budget(config, with_reference=False, saved=saved)
    written = json.loads(json.dumps(plan.to_dict()))
    assert [vars(c) for c in reused.choices] == written["choices"]
    assert [vars(st) for st in reused.stages] == written["stages"]
    assert reused.search_ends_at == pytest.approx(plan.search_ends_at, abs=0.1)
    assert again.study.n_trials == plan.value("study.n_trials")
    # Another budget (or any other input) is planned afresh.
    monkeypatch.setattr(budgeted, "check_rates", _checks(RateCheck(48, 1.0, 1.0, 6, 1.0)))
    other = load_config(make_config({"study": {"budget": "4m"}}))
    fresh = plan_budget(other, with_reference=False, saved=saved)[1]
    assert fresh.budget_seconds == 240
    # A broken plan.json is planned afresh too, not an error.
    saved.write_text("{not json")
    assert plan_budget(config, with_reference=False, saved=saved)[1].budget_seconds == 180


def test_checks_that_confirm_the_rates_check_one_length() -> None:
    """A check within the tolerance leaves the cached rates as they are: the plan made after it
    moves only by the check's own charged seconds (here a length shorter for each check), and
    the length it moves to is not checked again. Rates a check changes are checked again at the
    length they move the plan to, up to three lengths."""
    lengths = [160, 128, 96, 64]

    def plan_at(length: int) -> SimpleNamespace:
        return SimpleNamespace(value=lambda key: length)

    for ratio, checked in ((1.1, [160]), (1.5, [160, 128, 96])):
        seen: list[int] = []

        def check(length: int, ratio: float = ratio, seen: list[int] = seen) -> RateCheck:
            seen.append(length)
            return RateCheck(length, ratio, 1.0, 6, 1.0)

        plan, checks = check_lengths(plan_at(160), check, lambda c: plan_at(lengths[len(c)]))
        assert seen == checked and [c.length for c in checks] == checked
        assert plan.value("data.max_length") == lengths[len(checked)]
