"""Search-space entry -> Optuna distribution, as a table; and the trial -> params map."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from hpo.config.schema import ParamSpec
from hpo.config.space import make_hp_space, to_distribution

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
    from hpo.config.space import contains

    assert all(contains(dist, v) for v in inside), inside
    assert not any(contains(dist, v) for v in outside), outside
