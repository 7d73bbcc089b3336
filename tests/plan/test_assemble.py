"""A plan's record from the planner's decisions: the keys, the stages, the search's reason."""

from __future__ import annotations

from typing import Any

import pytest
from test_planner import config, profile, request

from hpo.plan.assemble import Search, assemble
from hpo.plan.costs import Costs


def _assembled(search: Search | None, **kwargs: Any):
    return assemble(
        kwargs.pop("asked", None) or request(),
        profile(),
        1800.0,
        length=32,
        whole_length=32,
        epochs=kwargs.pop("epochs", 4.5),
        trial_epochs=(3, 3),
        evals=1,
        costs=Costs(train=0.02, eval=0.004, load=2.0),
        search=search,
        search_why=kwargs.pop("why", "the reason"),
        keep_best=True,
        stage_seconds={
            "prepare": 60.0,
            "final": 900.0,
            "baselines": 30.0,
            "reference": 0.0,
            "report": 15.0,
        },
        eval_examples=1000,
    )


def test_no_search_is_a_plan_of_its_own() -> None:
    plan = _assembled(None, why="no search: too few a class")
    assert plan.value("study.n_trials") == 0
    assert plan.facts["search"] == {
        "chosen": False,
        "why": "no search: too few a class",
        "by_rates": True,
    }
    search = next(s for s in plan.stages if s.name == "search")
    assert (search.seconds, search.what) == (0.0, "none: the strong default is trained")
    final = next(s for s in plan.stages if s.name == "final")
    assert final.what.startswith("train 9,000 x 4.5 epoch(s), keep the best on validation")
    assert plan.facts["final_epochs"] == 4.5 and plan.facts["final_keep_best"]
    assert plan.shortest_trial_seconds == 0.0
    assert not any("trial(s) fit" in note for note in plan.notes)


def test_a_search_names_its_trials_and_subset() -> None:
    plan = _assembled(Search(examples=2000, trials=8, seconds=600.0), epochs=3)
    assert plan.value("study.n_trials") == 8
    assert plan.value("data.max_train_samples") == 2000
    assert plan.facts["search"]["chosen"]
    search = next(s for s in plan.stages if s.name == "search")
    assert search.what == "8 trials x 2,000 examples, 3 epoch(s)"
    assert search.seconds == pytest.approx(600.0)
    assert plan.shortest_trial_seconds > 0
    why = next(c.why for c in plan.choices if c.key == "training.num_train_epochs")
    assert why.startswith("each trial trains this many of its subset")


def test_your_sampler_is_kept_as_you_set_it_and_says_so() -> None:
    search = Search(examples=2000, trials=9, seconds=600.0)
    random = {"type": "RandomSampler", "seed": 42}
    asked = request(config(study={"name": "p", "budget": "30m", "sampler": random}))
    yours = next(c for c in _assembled(search, asked=asked).choices if c.key == "study.sampler")
    assert (yours.by, yours.value, yours.why) == ("you", random, "set by you")
    tpe = next(c for c in _assembled(search).choices if c.key == "study.sampler")
    assert tpe.by == "planner" and tpe.value["n_startup_trials"] == 3 and "TPE" in tpe.why


def test_a_reason_for_the_planners_own_value_is_not_given_for_yours() -> None:
    search = Search(examples=2000, trials=9, seconds=600.0)
    hyperband = {"type": "HyperbandPruner"}
    asked = request(config(data={"truncation": "tail"}, study={"pruner": hyperband}))
    chosen = {c.key: c for c in _assembled(search, asked=asked).choices}
    assert (chosen["data.truncation"].value, chosen["data.truncation"].why) == (
        "tail",
        "set by you",
    )
    assert (chosen["study.pruner"].value, chosen["study.pruner"].why) == (hyperband, "set by you")
    planners = {c.key: c for c in _assembled(search).choices}
    assert planners["data.truncation"].why == "no cut"
    assert planners["study.pruner"].why == "prunes on samples seen after the first trials"
