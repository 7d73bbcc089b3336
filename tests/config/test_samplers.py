"""Optuna samplers and pruners from a config block, with Optuna's own checks and ours."""

from __future__ import annotations

import optuna
import pytest

from hpo.config.samplers import build_pruner, build_sampler
from hpo.errors import ConfigError


@pytest.mark.parametrize(
    ("spec", "cls"),
    [
        ({"type": "TPESampler", "seed": 1}, optuna.samplers.TPESampler),
        ({"type": "RandomSampler"}, optuna.samplers.RandomSampler),
    ],
)
def test_samplers(spec: dict, cls: type) -> None:
    assert isinstance(build_sampler(spec), cls)


@pytest.mark.parametrize(
    ("spec", "cls"),
    [
        ({"type": "none"}, optuna.pruners.NopPruner),
        ({"type": "MedianPruner", "n_startup_trials": 2}, optuna.pruners.MedianPruner),
        ({"type": "SuccessiveHalvingPruner"}, optuna.pruners.SuccessiveHalvingPruner),
        ({"type": "HyperbandPruner", "min_resource": 1}, optuna.pruners.HyperbandPruner),
    ],
)
def test_pruners(spec: dict, cls: type) -> None:
    assert isinstance(build_pruner(spec), cls)


@pytest.mark.parametrize(
    ("build", "spec", "message"),
    [
        (build_sampler, {"type": "Nope"}, r"study.sampler.type: 'Nope' is not in optuna.samplers"),
        (
            build_sampler,
            {"type": "TPESampler", "seeed": 1},
            r"study.sampler.seeed: unknown argument",
        ),
        (build_pruner, {"type": "MedianPruner", "n_startup": 1}, r"Valid: n_startup_trials"),
        (build_pruner, {}, r"study.pruner.type: None is not in optuna.pruners"),
    ],
)
def test_bad_blocks_name_the_key(build, spec: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build(spec)
