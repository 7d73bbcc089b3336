"""Search-space entry -> Optuna distribution, as a table; and the trial -> params map."""

from __future__ import annotations

from types import SimpleNamespace

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from hpo.config import ParamSpec
from hpo.space import make_hp_space, to_distribution

CASES = [
    (ParamSpec("float", 1e-5, 1e-3, log=True), FloatDistribution(1e-5, 1e-3, log=True)),
    (ParamSpec("float", 0.0, 0.3, step=0.1), FloatDistribution(0.0, 0.3, step=0.1)),
    (ParamSpec("int", 1, 5), IntDistribution(1, 5)),
    (ParamSpec("int", 0, 200, step=20), IntDistribution(0, 200, step=20)),
    (ParamSpec("int", 8, 64, log=True), IntDistribution(8, 64, log=True)),
    (ParamSpec("categorical", choices=[16, 32]), CategoricalDistribution([16, 32])),
]


@pytest.mark.parametrize(("spec", "expected"), CASES, ids=[str(c[1]) for c in CASES])
def test_to_distribution(spec: ParamSpec, expected: object) -> None:
    assert to_distribution(spec) == expected


def test_hp_space_replays_fixed_trial() -> None:
    space = {
        "learning_rate": ParamSpec("float", 1e-5, 1e-3, log=True),
        "per_device_train_batch_size": ParamSpec("categorical", choices=[16, 32]),
        "num_train_epochs": ParamSpec("int", 1, 3),
    }
    hp_space = make_hp_space(space)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    trial = study.ask()
    params = hp_space(trial)
    assert params == trial.params
    # The final stage replays a best trial through the same map.
    assert make_hp_space(space)(optuna.trial.FixedTrial(params)) == params


@pytest.mark.parametrize(
    ("dist", "inside", "outside"),
    [
        (FloatDistribution(1e-5, 1e-3, log=True), [1e-5, 2e-4, 1e-3], [1e-6, 0.01, "x", True]),
        (FloatDistribution(0.0, 1.0, step=0.25), [0.0, 0.5, 1], [0.3, 1.25]),
        (IntDistribution(0, 200, step=20), [0, 40, 200], [30, 220, 40.5, -20]),
        (IntDistribution(1, 3), [1, 2.0, 3], [0, 2.5]),
        (CategoricalDistribution([16, 32]), [16, 32, 16.0], [8, "16"]),
        (CategoricalDistribution([True, False]), [True, False], [1, 0]),
    ],
)
def test_contains_matches_what_the_distribution_can_suggest(
    dist: object, inside: list[object], outside: list[object]
) -> None:
    from hpo.space import contains

    assert all(contains(dist, v) for v in inside), inside
    assert not any(contains(dist, v) for v in outside), outside


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

    from hpo.config import REFERENCE_PARAMS, REFERENCE_WARMUP_SHARE
    from hpo.retrain import plan_reference, trained_params
    from hpo.space import distributions, resolve_reference, suggest

    space = {"warmup_steps": warmup}
    config = SimpleNamespace(
        search_space=space, reference=dict(REFERENCE_PARAMS), training={"num_train_epochs": 1}
    )
    trained = trained_params(plan_reference(config, 1.0), config, n_train=25_000)
    searched = resolve_reference(space, config.reference, config.training, n_train=2000)
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
