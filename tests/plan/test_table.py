"""The plan as text: every key with who set it, every stage with its minutes."""

from __future__ import annotations

from hpo.plan.decision import Choice, Plan, StagePlan
from hpo.plan.table import planned_against_actual, render_plan


def test_render_and_compare() -> None:
    plan = Plan(
        budget_seconds=1800,
        choices=(
            Choice("data.max_length", 128, "planner", "the longest that fits"),
            Choice("study.pruner", {"type": "MedianPruner"}, "you", ""),
        ),
        stages=(StagePlan("search", "10 trials", 600.0), StagePlan("final", "train", 900.0)),
        search_ends_at=700,
        shortest_trial_seconds=50,
        notes=("only a few trials fit",),
    ).to_dict()
    text = render_plan(plan)
    assert "budget of 30.0 min (25.0 min planned)" in text
    assert "data.max_length  128" in text and "planner" in text
    assert "{type: MedianPruner}" in text
    assert "search" in text and "10.0 min" in text
    assert "note: only a few trials fit" in text
    plan["actual_seconds"] = {"search": 500.0}
    assert planned_against_actual(plan) == [("search", 600.0, 500.0), ("final", 900.0, None)]


def test_the_search_decision_is_the_first_line_after_the_budget() -> None:
    def rendered(chosen: bool, why: str) -> list[str]:
        plan = Plan(
            budget_seconds=600,
            choices=(Choice("study.n_trials", 8 if chosen else 0, "planner", why),),
            stages=(StagePlan("final", "train", 500.0),),
            search_ends_at=0,
            shortest_trial_seconds=0,
            facts={"search": {"chosen": chosen, "why": why}},
        ).to_dict()
        return render_plan(plan).splitlines()

    assert rendered(False, "no search: too few a class")[2] == "Search: no search: too few a class"
    assert rendered(True, "60 a class")[2] == "Search: yes: 60 a class"
