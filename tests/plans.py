"""Stand-ins for the planner's tests: a plan, a study of trial records, a data profile."""

from __future__ import annotations

from types import SimpleNamespace

from hpo.plan.decision import Choice, Plan, StagePlan
from hpo.plan.profile import DataProfile


def stub_plan(budget: float = 600.0, **facts) -> Plan:
    """A plan of 2 trials at 32 tokens whose search ends at 200 s; ``facts`` added."""
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


def stub_study(trials: list[dict]) -> SimpleNamespace:
    """A study whose trials have ``trials`` as their user attrs."""
    frozen = [SimpleNamespace(number=i, params={}, user_attrs=a) for i, a in enumerate(trials)]
    return SimpleNamespace(get_trials=lambda deepcopy=False, states=(): frozen)


def stub_profile(n_final: int, n_test: int) -> DataProfile:
    """A profile of ``n_final`` training and ``n_test`` test examples, no validation."""
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
