"""The plan's record: overrides are the planner's keys only; plain data round-trips to JSON."""

from __future__ import annotations

import json

from hpo.plan.decision import Choice, Plan, StagePlan


def test_overrides_and_plain_data() -> None:
    plan = Plan(
        budget_seconds=600,
        choices=(
            Choice("data.max_length", 128, "planner", "fits"),
            Choice("study.n_trials", 4, "you"),
        ),
        stages=(StagePlan("search", "4 trials", 100.0), StagePlan("final", "train", 200.0)),
        search_ends_at=300,
        shortest_trial_seconds=20,
    )
    assert plan.overrides() == {"data.max_length": 128}
    assert plan.value("study.n_trials") == 4
    assert plan.total_seconds == 300
    data = json.loads(json.dumps(plan.to_dict()))
    assert data["planned_seconds"] == 300
    assert [c["by"] for c in data["choices"]] == ["planner", "you"]


def test_a_plan_reads_back_from_plan_json() -> None:
    plan = Plan(
        budget_seconds=600,
        choices=(Choice("data.max_length", 128, "planner", "fits"),),
        stages=(StagePlan("search", "4 trials", 100.0),),
        search_ends_at=300,
        shortest_trial_seconds=20,
        notes=("a note",),
        facts={"cost_model": {"length": 128}, "inputs": "abc"},
    )
    # As a run writes it: the plan beside the run's own keys.
    written = json.loads(json.dumps(plan.to_dict() | {"started": 1.0, "events": ["cut"]}))
    back = Plan.from_dict(written)
    assert back == plan
    assert "started" not in back.facts and "events" not in back.facts
