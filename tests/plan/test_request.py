"""What the planner is asked of a config: the keys it may set, which are yours, nothing else."""

from __future__ import annotations

import dataclasses

from test_planner import config, plan, request

from hpo.plan.request import PLANNED_KEYS, READ_KEYS


def test_a_key_is_fixed_only_where_you_set_it() -> None:
    yours = config(data={"max_length": 64})
    left = dataclasses.replace(yours, explicit=yours.explicit - {"data.max_length"})
    assert request(left).fixed("data.max_length") is None  # the value, but not yours
    asked = request(yours)
    assert asked.fixed("data.max_length") == 64 and asked.value("data.max_length") == 64
    assert asked.yours("data.max_length") and not asked.yours("data.truncation")
    assert asked.yours("training.num_train_epochs", also=("data.max_length",))
    assert not request(left).yours("data.max_length")


def test_the_request_holds_every_key_a_plan_sets_or_reads() -> None:
    asked = request()
    assert set(asked.values) == {*PLANNED_KEYS, *READ_KEYS}
    assert asked.value("study.ship") == config().study.ship
    assert asked.value("search_space.num_train_epochs") is None  # not searched: unset
    # Every key a plan chooses is one the request carries, so its value is there to keep.
    assert {choice.key for choice in plan().choices} <= set(PLANNED_KEYS)


def test_what_the_planner_does_not_read_does_not_reach_it() -> None:
    # The backbone's name and the reference setup are the config's, not the plan's business.
    other = config(model={"name": "another"}, reference={"learning_rate": 3e-5})
    asked, same = request(other), request()
    assert (asked.values, asked.search_space, asked.training) == (
        same.values,
        same.search_space,
        same.training,
    )
    assert plan(cfg=other) == plan()
