"""The reference setup: its warmup as a share of the run, the same in the search and the retrain."""

from __future__ import annotations

from types import SimpleNamespace

import optuna
import pytest

from hpo.config.reference import TFIDF_C_VALUES, TFIDF_NGRAM_RANGES, TFIDF_PRIORITY, tfidf_grid
from hpo.config.schema import ParamSpec
from hpo.train.settings import with_defaults


@pytest.mark.parametrize(
    ("warmup", "final"),
    [
        # A share of the run: the final run gets the share the search's reference trial got,
        # inside the space's range (Transformers turns it into 38 of 1,563 steps).
        (ParamSpec("float", 0.0, 0.2), "share"),
        # Steps: 2.37% of 1,563 steps (25,000 reviews, batch 16, one epoch).
        (ParamSpec("int", 0, 200, step=20), 37),
    ],
)
def test_reference_retrain_resolves_auto_warmup_as_the_search_does(
    warmup: ParamSpec, final: object
) -> None:
    import warnings

    from hpo.config.reference import (
        REFERENCE_PARAMS,
        REFERENCE_WARMUP_SHARE,
        resolve_auto_warmup,
        resolve_reference,
    )
    from hpo.config.space import distributions, suggest
    from hpo.final.retrain import plan_reference

    space = {"warmup_steps": warmup}
    config = SimpleNamespace(
        search_space=space, reference=dict(REFERENCE_PARAMS), training={"num_train_epochs": 1}
    )
    plan = plan_reference(config.reference, config.search_space, 1.0)
    training = with_defaults(config.training)
    trained = resolve_auto_warmup(plan.params, config.search_space, training, n_train=25_000)
    searched = resolve_reference(space, config.reference, training, n_train=2000)
    if final == "share":
        assert trained["warmup_steps"] == searched["warmup_steps"] == REFERENCE_WARMUP_SHARE
        # The final stage replays it through the search's hp_space: no out-of-range warning.
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            dist = distributions(space)["warmup_steps"]
            trial = optuna.trial.FixedTrial(trained)
            assert suggest(trial, "warmup_steps", dist) == REFERENCE_WARMUP_SHARE
    else:
        assert trained["warmup_steps"] == final


def test_reference_warmup_is_a_share_of_the_run(make_config) -> None:
    from hpo.config.reference import REFERENCE_WARMUP_SHARE, resolve_reference

    reference = {"learning_rate": 2e-5, "per_device_train_batch_size": 16, "warmup_steps": "auto"}
    space = {"warmup_steps": ParamSpec("int", 0, 200, step=20)}
    # 100 steps of the original 4,221-step run: the original setup gets its 100 back.
    assert resolve_reference(
        {"warmup_steps": ParamSpec("int", 0, 500)},
        {**reference, "num_train_epochs": 3},
        with_defaults({}),
        n_train=22_500,
    ) == {"warmup_steps": 100}
    # 2,000 reviews, batch 16, 1 epoch: 125 steps, 3 warmup steps, on the space's grid of 20.
    assert round(REFERENCE_WARMUP_SHARE * 125) == 3
    assert resolve_reference(
        space, reference, with_defaults({"num_train_epochs": 1}), n_train=2000
    ) == {"warmup_steps": 0}
    # A 25-step run never gets a warmup longer than itself.
    assert resolve_reference(
        {"warmup_steps": ParamSpec("int", 0, 200)},
        reference,
        with_defaults({"num_train_epochs": 1}),
        n_train=400,
    ) == {"warmup_steps": 1}
    # A number the user wrote is used as written.
    assert resolve_reference(space, {"warmup_steps": 40}, with_defaults({}), n_train=400) == {
        "warmup_steps": 40
    }
    # Warmup searched as a share of the run (a float below 1): the reference's share, whatever
    # the run's length, on the space's grid.
    share = {"warmup_steps": ParamSpec("float", 0.0, 0.2)}
    for n_train in (400, 2000, 22_500):
        assert resolve_reference(
            share, reference, with_defaults({"num_train_epochs": 1}), n_train=n_train
        ) == {"warmup_steps": REFERENCE_WARMUP_SHARE}
    coarse = {"warmup_steps": ParamSpec("float", 0.0, 0.2, step=0.05)}
    assert resolve_reference(coarse, reference, with_defaults({}), n_train=2000) == {
        "warmup_steps": 0.0
    }


def test_the_strong_default_with_no_search_leaves_fixed_keys_to_the_config() -> None:
    from hpo.config.reference import STRONG_DEFAULT, strong_default

    searched = {"per_device_train_batch_size": ParamSpec("categorical", choices=[16, 32])}
    assert strong_default({}, {}) == STRONG_DEFAULT
    # Fixed and not searched: the config's, left out of the default.
    fixed = strong_default({}, {"per_device_train_batch_size": 8, "seed": 1})
    assert "per_device_train_batch_size" not in fixed and fixed["learning_rate"] == 5e-5
    # Searched (the search would have chosen it): the default's.
    both = strong_default(searched, {"per_device_train_batch_size": 8})
    assert both["per_device_train_batch_size"] == 32


def test_part_of_the_tfidf_grid_keeps_its_first_settings_in_the_grids_order() -> None:
    whole = tfidf_grid()
    assert whole == [(n, c) for n in TFIDF_NGRAM_RANGES for c in TFIDF_C_VALUES]
    assert sorted(TFIDF_PRIORITY) == sorted(whole)  # every setting ranked once
    assert tfidf_grid(len(whole)) == tfidf_grid(99) == whole
    for settings in range(1, len(whole)):
        part = tfidf_grid(settings)
        assert set(part) == set(TFIDF_PRIORITY[:settings])
        assert part == [setting for setting in whole if setting in part]  # ties: as the grid
    with pytest.raises(ValueError, match="at least 1"):
        tfidf_grid(0)
