"""The planner as a pure function: table-driven data and machines in, a plan out."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from hpo.config.reference import DEFAULT_EPOCHS, tfidf_grid
from hpo.config.validate import config_from_dict
from hpo.plan.constants import (
    FILL,
    LENGTHS,
    MIN_PART_PER_CLASS,
    MIN_PART_SAMPLES,
    READ_LENGTH,
    SEARCH_LEAD,
)
from hpo.plan.costs import baseline_seconds
from hpo.plan.decision import BudgetTooSmall
from hpo.plan.planner import MARGIN, make_plan
from hpo.plan.profile import DataProfile
from hpo.plan.rates import MachineRates
from hpo.plan.request import PlanRequest, plan_request
from hpo.search.trials import examples_to_resolve

#: A CPU like this machine's for a 22M-parameter encoder: seconds per example by length.
CPU = {32: 0.02, 64: 0.035, 128: 0.07, 192: 0.1, 256: 0.15, 512: 0.55}


def rates(scale: float = 1.0) -> MachineRates:
    return MachineRates(
        key={"device": "test"},
        train={n: s * scale for n, s in CPU.items()},
        eval={n: s * scale / 5 for n, s in CPU.items()},
        load_seconds=1.0,
        setup_seconds=1.0,
        measured_seconds=60.0,
    )


#: Validation examples enough for a search: a lead of SEARCH_LEAD is told from noise on them.
SEARCHABLE = examples_to_resolve(SEARCH_LEAD)


def profile(
    *,
    n_train: int = 9000,
    n_classes: int = 2,
    lengths: list[int] | None = None,
    pairs=False,
    n_validation: int | None = None,
) -> DataProfile:
    lengths = lengths or [20] * 2000
    return DataProfile(
        n_train=n_train,
        n_validation=n_train // 9 if n_validation is None else n_validation,
        n_final_train=n_train + n_train // 9,
        n_test=n_train // 3,
        labels=tuple(f"c{i}" for i in range(n_classes)),
        class_counts=tuple([n_train // n_classes] * n_classes),
        pairs=pairs,
        train_lengths=tuple(sorted(lengths)),
        length_percentiles={},
        mean_chars=100.0,
        tokenize_seconds_per_example=1e-4,
        tfidf_seconds_per_example=1e-4,
        profile_seconds=2.0,
    )


def config(**sections: dict[str, Any]) -> Any:
    raw: dict[str, Any] = {
        "study": {"name": "p", "budget": "30m"},
        "model": {"name": "m"},
        "data": {"path": "/nowhere"},
        "search_space": {
            "learning_rate": {"type": "float", "low": 1e-5, "high": 2e-4, "log": True},
            "per_device_train_batch_size": {"type": "categorical", "choices": [16, 32]},
        },
        "training": {"train_sampling_strategy": "group_by_length"},
    }
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    return config_from_dict(raw)


def request(cfg: Any = None) -> PlanRequest:
    """What the planner is asked of ``cfg`` (default :func:`config`), as the budgeted run asks."""
    cfg = cfg or config()
    return plan_request(cfg.value_of, cfg.explicit, cfg.search_space, cfg.training)


def plan(cfg=None, prof=None, budget=1800.0, **kwargs: Any):
    return make_plan(
        request(cfg),
        prof or profile(),
        kwargs.pop("machine", rates()),
        budget,
        model_max_length=kwargs.pop("model_max_length", 512),
        with_reference=kwargs.pop("with_reference", False),
        spent_seconds=kwargs.pop("spent_seconds", 60.0),
        final_rates=kwargs.pop("final_rates", None),
    )


def test_short_texts_are_not_cut_and_get_the_recipes_epochs() -> None:
    short = profile(lengths=[12] * 1000 + [30] * 990 + [90] * 10, n_validation=SEARCHABLE)
    made = plan(prof=short, budget=1800)
    assert made.facts["search"]["chosen"]
    assert made.value("data.max_length") == 32  # 99% of texts fit whole
    assert made.value("data.truncation") == "head"
    # Trials train the strong default's epochs of their subset; the final stage plans as many.
    assert made.value("training.num_train_epochs") == DEFAULT_EPOCHS
    assert made.facts["final_epochs"] == DEFAULT_EPOCHS and made.facts["final_keep_best"]
    assert "search_space.num_train_epochs" not in made.overrides()
    assert made.total_seconds <= 1800


def test_long_texts_get_the_length_the_final_stage_affords_and_head_tail() -> None:
    long = profile(n_train=22_500, lengths=[600] * 2000)
    made = plan(prof=long, budget=3600)
    length = made.value("data.max_length")
    assert 64 <= length < 512
    assert made.value("data.truncation") == "head+tail"
    # 22,500 examples see enough samples in one epoch: length comes before more epochs.
    assert 1 <= made.facts["final_epochs"] <= DEFAULT_EPOCHS
    # A bigger budget buys more context.
    assert plan(prof=long, budget=3 * 3600).value("data.max_length") > length


def test_every_plan_fits_its_budget() -> None:
    for budget in (900, 1800, 3600, 5400):
        for prof in (profile(), profile(n_train=22_500, lengths=[600] * 2000)):
            made = plan(prof=prof, budget=budget)
            assert made.total_seconds <= budget, (budget, made.to_dict())
            after = sum(s.seconds for s in made.stages if s.name not in ("prepare", "search"))
            assert made.search_ends_at + after <= budget * (1 - MARGIN) + 1e-6
            prepare = next(s.seconds for s in made.stages if s.name == "prepare")
            search = next(s.seconds for s in made.stages if s.name == "search")
            assert made.search_ends_at >= prepare + search - 1e-6


def test_the_users_keys_are_kept_and_shown_as_theirs() -> None:
    cfg = config(
        data={"max_length": 64, "max_train_samples": 500},
        training={"num_train_epochs": 1, "train_sampling_strategy": "group_by_length"},
        study={"name": "p", "n_trials": 4},
    )
    made = plan(cfg=cfg, prof=profile(lengths=[200] * 2000))
    by = {c.key: (c.value, c.by) for c in made.choices}
    assert by["data.max_length"] == (64, "you")
    assert by["data.max_train_samples"] == (500, "you")
    assert by["training.num_train_epochs"] == (1, "you")
    assert by["study.n_trials"] == (4, "you")
    assert by["data.truncation"][1] == "planner"
    assert not set(made.overrides()) & {"data.max_length", "study.n_trials"}


def test_the_same_inputs_give_the_same_plan() -> None:
    assert plan().to_dict() == plan().to_dict()


def named_minimum(err: pytest.ExceptionInfo[BudgetTooSmall]) -> int:
    """Seconds of the budget a refusal names (it rounds to a tenth of a minute: 6 s more)."""
    need = re.search(r"needs at least ([\d.]+) min", str(err.value))
    assert need is not None, str(err.value)
    return round(float(need[1]) * 60) + 6


def test_a_budget_too_small_names_the_minimum() -> None:
    long = profile(n_train=22_500, lengths=[600] * 2000)
    with pytest.raises(BudgetTooSmall) as err:
        plan(prof=long, budget=120)
    message = str(err.value)
    assert "too small for the final stage" in message
    assert "needs at least" in message and "--budget" in message
    # and what that minimum is made of, each part the plan's own allowance
    for part in (
        "preparing",
        r"the TF-IDF baseline at 1 setting\(s\)",
        "the final stage at its least",
    ):
        assert re.search(rf"{part} [\d.]+ (s|min)", message), message
    baseline = re.search(r"TF-IDF baseline at 1 setting\(s\) ([\d.]+) (s|min)", message)
    assert baseline is not None
    seconds = float(baseline[1]) * (60 if baseline[2] == "min" else 1)
    assert seconds == pytest.approx(baseline_seconds(long, 1), abs=6)
    # The minimum named is one that plans: a part of train, where no whole epoch fits.
    made = plan(prof=long, budget=named_minimum(err))
    assert made.facts["final_epochs"] * 22_500 >= MIN_PART_SAMPLES
    # At your length too: a twentieth of an epoch, not the recipe's epochs.
    cfg = config(data={"max_length": 256})
    with pytest.raises(BudgetTooSmall) as err:
        plan(cfg=cfg, prof=long, budget=120)
    assert plan(cfg=cfg, prof=long, budget=named_minimum(err)).facts["final_epochs"] == 0.05


def test_a_budget_too_small_for_the_whole_tfidf_grid_holds_the_most_of_it_that_fit() -> None:
    # Long texts in many classes, where a TF-IDF regression costs more than the transformer's
    # least: the plan keeps the final stage and tries fewer of the grid's settings.
    costly = dataclasses.replace(
        profile(n_train=9000, n_classes=20, lengths=[600] * 2000),
        tfidf_seconds_per_example=0.02,
        tfidf_vectorize_seconds_per_example=0.002,
    )
    held = {}
    for budget in range(800, 3000, 100):
        made = plan(prof=costly, budget=budget)
        settings = held[budget] = made.facts["tfidf_settings"]
        stage = next(s for s in made.stages if s.name == "baselines")
        assert stage.seconds == pytest.approx(baseline_seconds(costly, settings))
        assert made.total_seconds <= budget
        if settings < len(tfidf_grid()):
            assert f"({settings} of its 8 settings)" in stage.what
            assert any(f"tries {settings} of its 8 settings" in note for note in made.notes)
            # the most that fit: with the next setting's seconds more, the next one is held
            more = baseline_seconds(costly, settings + 1) - baseline_seconds(costly, settings)
            wider = plan(prof=costly, budget=budget + more / (1 - MARGIN) + 1)
            assert wider.facts["tfidf_settings"] > settings
        else:
            assert not any("TF-IDF" in note for note in made.notes), made.notes
    assert sorted(held.values()) == list(held.values())  # more time, no fewer settings
    assert held[800] == 1 and held[2900] == 8 and set(held.values()) == set(range(1, 9))


def test_long_texts_on_a_slow_machine_read_a_part_of_train_not_all_of_it_cut_short() -> None:
    long = profile(n_train=22_500, lengths=[600] * 2000)
    for machine, budget in ((rates(), 900), (rates(2), 1800)):
        made = plan(prof=long, budget=budget, machine=machine)
        # Whole epochs of all of train fit only at 32 tokens: a part is read at 128 instead.
        assert made.value("data.max_length") == READ_LENGTH
        epochs = made.facts["final_epochs"]
        assert 0 < epochs < 1 and epochs * 22_500 >= MIN_PART_SAMPLES
        why = next(c.why for c in made.choices if c.key == "data.max_length")
        assert "whole epochs of all 22,500 fit only at 32 tokens" in why, why
        assert f"a random part of train at this length instead ({epochs:g} of an epoch" in why
        assert made.total_seconds <= budget
    # Where whole epochs fit at more than half of READ_LENGTH, they are trained.
    roomy = plan(prof=long, budget=1800)
    assert roomy.value("data.max_length") > READ_LENGTH // 2 and roomy.facts["final_epochs"] >= 1


def test_in_many_classes_a_part_read_longer_must_hold_enough_a_class() -> None:
    # The same long texts and machines in 20 classes: a part of 2,000-odd at 128 tokens would
    # hold about a hundred a class; the plan reads longer only where MIN_PART_PER_CLASS a class
    # fit, else it trains all of train at the length whole epochs fit at.
    many = profile(n_train=22_500, n_classes=20, lengths=[600] * 2000)
    for machine, budget in ((rates(), 900), (rates(2), 1800)):
        made = plan(prof=many, budget=budget, machine=machine)
        length, epochs = made.value("data.max_length"), made.facts["final_epochs"]
        # MIN_PART_PER_CLASS a class is most of an epoch here, which fits only where whole
        # epochs do: at the shortest length.
        assert MIN_PART_PER_CLASS * 20 > 0.8 * 22_500
        assert length == LENGTHS[0] and epochs >= 1, (length, epochs)
        assert made.total_seconds <= budget
    # Where whole epochs fit at no length, a part at the shortest length, as for two classes.
    tight = plan(prof=many, budget=600, machine=rates(2))
    assert tight.value("data.max_length") == LENGTHS[0] and tight.facts["final_epochs"] < 1


def test_mostly_short_texts_keep_all_of_train_at_a_short_length() -> None:
    # 40% of texts are cut at 32 tokens: more examples, not more of each, where whole epochs fit.
    mixed = profile(n_train=22_500, lengths=[20] * 1200 + [50] * 800)
    made = plan(prof=mixed, budget=2400, machine=rates(4))
    assert made.value("data.max_length") == 32 and made.facts["final_epochs"] >= 1
    # Where none fits, a part of train at the shortest length (was: a budget too small).
    tight = plan(prof=mixed, budget=600, machine=rates(2))
    assert tight.value("data.max_length") == 32 and tight.facts["final_epochs"] < 1


def test_the_reference_retrain_takes_its_share() -> None:
    long = profile(n_train=22_500, lengths=[600] * 2000)
    alone = plan(prof=long, budget=3600)
    both = plan(prof=long, budget=3600, with_reference=True)
    assert "reference" in [s.name for s in both.stages]
    assert both.value("data.max_length") <= alone.value("data.max_length")


def test_pairs_are_cut_from_the_longer_side() -> None:
    made = plan(prof=profile(lengths=[700] * 2000, pairs=True))
    assert made.value("data.truncation") == "head"


def test_few_examples_per_class_are_noted() -> None:
    made = plan(prof=profile(n_train=900, n_classes=77))
    assert any("rarest class" in note for note in made.notes)


def test_a_tight_budget_trains_the_strong_default_with_no_search() -> None:
    tight = plan(prof=profile(n_train=2000), budget=200)
    assert tight.value("study.n_trials") == 0
    assert not tight.facts["search"]["chosen"]
    # 222 validation examples: a difference of ±9.3 points, too wide to trust a search's best.
    assert tight.facts["search"]["why"].startswith("no search: 222 validation examples")
    assert next(s for s in tight.stages if s.name == "search").seconds == 0
    assert tight.shortest_trial_seconds == 0
    assert tight.total_seconds <= 200


def test_keys_that_overrun_the_budget_are_noted_and_the_search_is_cut_to_fit() -> None:
    cfg = config(
        data={"max_length": 256, "max_train_samples": 8000},
        study={"name": "p", "n_trials": 30},
        training={"num_train_epochs": 1, "train_sampling_strategy": "group_by_length"},
    )
    long = profile(n_train=22_500, lengths=[600] * 2000)
    made = plan(cfg=cfg, prof=long, budget=7200)
    assert made.total_seconds > 7200
    assert any("the deadline will end the search early" in note for note in made.notes)
    after = sum(s.seconds for s in made.stages if s.name not in ("prepare", "search"))
    assert made.search_ends_at + after <= 7200 * (1 - MARGIN) + 1e-6
    # Too small even for the final stage: the minimum named is one that works.
    with pytest.raises(BudgetTooSmall) as err:
        plan(cfg=cfg, prof=long, budget=3000)
    need = re.search(r"needs at least (\d+) h (\d+) min", str(err.value))
    assert need is not None
    minimum = (int(need[1]) * 60 + int(need[2]) + 1) * 60
    assert plan(cfg=cfg, prof=long, budget=minimum).total_seconds > 0


def test_your_long_length_where_no_epoch_fits_trains_part_of_one() -> None:
    """Your 256 tokens on long documents, a budget that holds no whole epoch of all of train:
    the final stage reads a random part of train at that length (twentieths of an epoch),
    where it once refused the budget."""
    long = profile(n_train=22_500, lengths=[600] * 2000)
    cfg = config(data={"max_length": 256}, study={"n_trials": 0, "budget": "30m"})
    made = plan(cfg=cfg, prof=long, budget=1800.0)
    epochs = made.facts["final_epochs"]
    assert 0 < epochs < 1 and round(epochs * 20) == epochs * 20
    assert made.value("data.max_length") == 256
    assert made.total_seconds <= 1800.0
    # Left to the planner, the length is one at which whole epochs fit.
    free = plan(cfg=config(study={"n_trials": 0, "budget": "30m"}), prof=long, budget=1800.0)
    assert free.value("data.max_length") < 256 and free.facts["final_epochs"] >= 1


def test_below_the_floor_every_size_down_to_the_smallest_is_tried() -> None:
    """Your trials where the floor (1,000 examples) does not fit them: the search takes the
    largest subset at which they fit, not the smallest subset at once."""
    tight = plan(cfg=config(study={"n_trials": 10}), budget=1200.0)
    chosen = {c.key: c.value for c in tight.choices}
    assert chosen["study.n_trials"] == 10
    assert 200 < chosen["data.max_train_samples"] < 1000
    assert tight.total_seconds <= 1200.0


@pytest.mark.parametrize("speed", [10, 50, 200])
@pytest.mark.parametrize(
    "shape",
    [
        {"n_train": 9000},  # short texts
        {"n_train": 25000, "lengths": [300] * 1000 + [1200] * 1000},  # long documents
        {"n_train": 15000, "n_classes": 150},  # many classes
    ],
)
@pytest.mark.parametrize("budget", [900.0, 1800.0, 7200.0])
def test_a_fast_machine_spends_its_budget(speed: int, shape: dict, budget: float) -> None:
    """Rates 10, 50 and 200 times this CPU's (a GPU): no cap of the planner's own leaves most of
    the budget unused. With a validation split too small for a search, a plan that does not
    fill the budget says that every key is at its most."""
    fast = plan(
        prof=profile(**shape, n_validation=SEARCHABLE), budget=budget, machine=rates(1 / speed)
    )
    assert FILL * budget <= fast.total_seconds <= budget, (fast.total_seconds, fast.notes)
    small = plan(prof=profile(**shape), budget=budget, machine=rates(1 / speed))
    assert not small.facts["search"]["chosen"] and small.total_seconds <= budget
    if small.total_seconds < FILL * budget:
        (note,) = [n for n in small.notes if "what holds it" in n]
        assert "every key at its most" in note, note


def test_a_plan_held_back_by_your_keys_says_which() -> None:
    held = plan(config(study={"n_trials": 4}), budget=7200.0, machine=rates(1 / 200))
    assert held.total_seconds < FILL * 7200.0
    (note,) = [n for n in held.notes if "what holds it" in n]
    assert "study.n_trials 4 (set by you)" in note


def test_with_no_search_the_final_stage_is_costed_at_its_own_rates() -> None:
    """The strong default's batch, timed at half the measured cost an example: the plan with
    no search fills the same budget with about twice the epochs, and costs them so."""
    many = profile(n_train=15_000, n_classes=150)
    measured = plan(prof=many, budget=1800.0)
    assert not measured.facts["search"]["chosen"]
    own = plan(prof=many, budget=1800.0, final_rates=rates().scaled(0.5, 1.0))
    assert not own.facts["search"]["chosen"]  # the search is judged at the search's rates
    assert own.facts["final_epochs"] > 1.6 * measured.facts["final_epochs"]
    assert own.facts["cost_model"]["train_seconds_per_example"] == pytest.approx(
        measured.facts["cost_model"]["train_seconds_per_example"] / 2
    )
    assert FILL * 1800.0 <= own.total_seconds <= 1800.0


def test_the_search_share_is_a_decision_with_its_reason() -> None:
    """The same data: a budget whose share beside the final stage holds no search worth
    having trains the strong default; a larger one searches, with at least 50 a class; and a
    validation split on which no lead of SEARCH_LEAD could be trusted holds none at any budget."""
    many = profile(n_train=15_000, n_classes=150, n_validation=SEARCHABLE)
    small = plan(prof=many, budget=1800.0)
    assert small.value("study.n_trials") == 0
    why = small.facts["search"]["why"]
    assert why.startswith("no search: 6 trials of 7,500 examples (50 a class) would take")
    assert "the strong default is trained" in why
    # Ruled out for time: a faster machine could bring a search in (the plan checks it).
    assert small.facts["search"]["by_rates"]
    # No search: the final stage takes the share, more epochs, the best kept on validation.
    assert small.facts["final_epochs"] > DEFAULT_EPOCHS
    assert small.total_seconds >= FILL * 1800.0
    large = plan(prof=many, budget=6 * 3600.0)
    assert large.value("study.n_trials") >= 6
    assert large.value("data.max_train_samples") is None or (
        large.value("data.max_train_samples") >= 50 * 150
    )
    assert large.facts["search"]["chosen"]
    assert "a search can pay" in large.facts["search"]["why"]
    assert large.value("training.num_train_epochs") == DEFAULT_EPOCHS
    # Trials scored on enough validation to trust a lead of SEARCH_LEAD, and costed so.
    assert large.value("data.max_eval_samples") in (SEARCHABLE, None)
    few = profile(n_train=15_000, n_classes=150, n_validation=3000)
    for budget in (1800.0, 6 * 3600.0):
        none = plan(prof=few, budget=budget)
        assert none.value("study.n_trials") == 0
        assert none.facts["search"]["why"].startswith(
            "no search: 3,000 validation examples tell a trial from the strong default only to "
            "±2.5 points"
        ), none.facts["search"]["why"]
        assert not none.facts["search"]["by_rates"]  # no machine's speed changes that


def test_no_search_when_you_set_no_trials() -> None:
    made = plan(cfg=config(study={"n_trials": 0}), budget=3600.0)
    assert made.value("study.n_trials") == 0
    assert "set by you" in made.facts["search"]["why"]
    assert not made.facts["search"]["by_rates"]
    assert next(s for s in made.stages if s.name == "search").what.startswith("none")


def test_a_plan_with_every_key_at_its_most_says_so() -> None:
    """Too few validation examples for a search, and a budget that holds more than the most
    epochs of all of train, texts whole: the plan leaves the rest and names each key's most."""
    small = plan(prof=profile(n_train=1800), budget=7200.0)
    assert small.value("study.n_trials") == 0
    assert small.total_seconds < FILL * 7200.0
    (note,) = [n for n in small.notes if "what holds it" in n]
    assert "every key at its most: all of train, texts whole, 10 epochs" in note


def test_workers_buy_a_larger_search_in_the_same_share() -> None:
    """Trials at once (this process and the workers that join it): where one at a time holds
    no search, four hold one on a larger subset, and eight one trial a worker at least, each
    search within the share the final stage leaves."""
    many = profile(n_train=15_000, n_classes=150, n_validation=SEARCHABLE)
    alone = plan(prof=many, budget=3600.0)
    assert alone.value("study.n_trials") == 0
    four = plan(cfg=config(study={"workers": 4}), prof=many, budget=3600.0)
    eight = plan(cfg=config(study={"workers": 8}), prof=many, budget=3600.0)
    assert four.value("study.n_trials") >= 6 and eight.value("study.n_trials") >= 8
    assert (eight.value("data.max_train_samples") or 15_000) >= (
        four.value("data.max_train_samples") or 15_000
    )
    for made in (four, eight):
        assert made.facts["workers"] in (4, 8)
        assert FILL * 3600.0 <= made.total_seconds <= 3600.0
        (search,) = [s for s in made.stages if s.name == "search"]
        assert search.what.endswith(f"{made.facts['workers']} at once")
        assert search.seconds <= made.search_ends_at


def test_a_plan_with_no_search_lists_the_lengths_its_final_stage_may_take() -> None:
    """The final stage chooses its length again when it starts, from the time then left
    (:func:`hpo.plan.replan.final_length`): among the plan's length and the longer ones it could
    have chosen, for at least the epochs it planned; none where the length is yours."""
    long = profile(n_train=22_500, lengths=[600] * 2000)
    made = plan(prof=long, budget=1800)
    assert made.facts["search"]["chosen"] is False
    length = made.value("data.max_length")
    assert made.facts["final_lengths"][0] == length
    assert made.facts["final_lengths"] == [n for n in LENGTHS if n >= length]
    assert made.facts["final_least_epochs"] == [1.0]
    mine = plan(cfg=config(data={"max_length": 128}), prof=long, budget=1800)
    assert mine.facts["final_lengths"] == []
