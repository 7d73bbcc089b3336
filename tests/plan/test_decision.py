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
