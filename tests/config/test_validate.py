"""Config validation, table-driven: YAML fragment -> the error text that names the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from hpo.api import load_config
from hpo.errors import ConfigError

BAD_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("unknown top key", {"trainin": {}}, "trainin: unknown key. Valid keys: study, model"),
    ("unknown study key", {"study": {"n_trial": 3}}, "study.n_trial: unknown key"),
    ("wrong type", {"study": {"n_trials": "many"}}, "study.n_trials: expected int, got str"),
    ("bool is not int", {"study": {"n_trials": True}}, "study.n_trials: expected int, got bool"),
    ("n_trials < 0", {"study": {"n_trials": -1}}, "study.n_trials must be >= 0"),
    ("workers < 1", {"study": {"workers": 0}}, "study.workers must be >= 1"),
    ("direction", {"study": {"direction": "minimize"}}, "must be 'maximize'"),
    ("ship", {"study": {"ship": "tfidf"}}, "study.ship: 'tfidf' is not one of best, tuned"),
    ("bad study name", {"study": {"name": "a b/c"}}, "study.name"),
    ("unknown sampler", {"study": {"sampler": {"type": "Nope"}}}, "study.sampler.type: 'Nope'"),
    (
        "sampler arg",
        {"study": {"sampler": {"type": "TPESampler", "sed": 1}}},
        "study.sampler.sed: unknown argument of TPESampler",
    ),
    (
        "pruner arg",
        {"study": {"pruner": {"type": "MedianPruner", "n_startup_trials": -1}}},
        "study.pruner",
    ),
    (
        "low > high",
        {"search_space": {"learning_rate": {"type": "float", "low": 1e-3, "high": 1e-5}}},
        "search_space.learning_rate: low must be < high, but got low=0.001, high=1e-05. Swap them",
    ),
    (
        "empty range",
        {"search_space": {"num_train_epochs": {"type": "int", "low": 2, "high": 2}}},
        "search_space.num_train_epochs: low must be < high",
    ),
    (
        "log with low <= 0",
        {"search_space": {"weight_decay": {"type": "float", "low": 0.0, "high": 0.1, "log": True}}},
        "search_space.weight_decay: log scale needs low > 0",
    ),
    (
        "empty choices",
        {"search_space": {"per_device_train_batch_size": {"type": "categorical", "choices": []}}},
        "search_space.per_device_train_batch_size.choices: must be a non-empty list",
    ),
    (
        "unknown param type",
        {"search_space": {"learning_rate": {"type": "uniform", "low": 0.1, "high": 0.2}}},
        "search_space.learning_rate.type: must be one of float, int, categorical",
    ),
    (
        "int with fraction",
        {"search_space": {"num_train_epochs": {"type": "int", "low": 1, "high": 2.5}}},
        "search_space.num_train_epochs.high: must be a whole number",
    ),
    (
        "missing low",
        {"search_space": {"weight_decay": {"type": "float", "high": 0.1}}},
        "search_space.weight_decay.low: required",
    ),
    (
        "not a TrainingArguments field",
        {"search_space": {"learning_rat": {"type": "float", "low": 0.1, "high": 0.2}}},
        "search_space.learning_rat: 'learning_rat' is not a TrainingArguments field",
    ),
    (
        "training unknown",
        {"training": {"per_device_batch": 8}},
        "training.per_device_batch: not a TrainingArguments field",
    ),
    (
        "training owned by hpo",
        {"training": {"save_strategy": "epoch"}},
        "training.save_strategy: set by hpo itself",
    ),
    (
        "training and search",
        {"training": {"learning_rate": 1e-4}},
        "training.learning_rate: also in search_space",
    ),
    ("TrainingArguments check", {"training": {"lr_scheduler_type": "zigzag"}}, "training:"),
    (
        "validation fraction",
        {"data": {"validation_fraction": 1.5}},
        "data.validation_fraction must be between 0 and 1",
    ),
    ("data section type", {"data": ["x"]}, "data must be a mapping, got list"),
    (
        "attention kernel",
        {"model": {"attn_implementation": "flash"}},
        "model.attn_implementation: unknown kernel 'flash'. Valid: auto, eager",
    ),
    (
        "dropout masks",
        {"model": {"dropout_masks": "fast"}},
        "model.dropout_masks: unknown value 'fast'. Valid: auto, torch.",
    ),
    (
        "warmup share mixed with steps",
        {"search_space": {"warmup_steps": {"type": "float", "low": 0.0, "high": 100.0}}},
        "search_space.warmup_steps: the float range 0.0-100.0 mixes a share of the run",
    ),
    (
        "reference outside space",
        {"study": {"enqueue_reference": True}},
        "reference.learning_rate: the value 2e-05 is outside the search space",
    ),
]


@pytest.mark.parametrize(("label", "update", "expected"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_config_is_rejected_at_load(
    make_config, label: str, update: dict[str, Any], expected: str
) -> None:
    path = make_config(update)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert expected in message
    assert message.startswith(str(path)), "the message names the file"
    assert "\n" not in message, "one line"


def test_missing_section(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("study: {name: x}\n")
    with pytest.raises(ConfigError, match="missing section 'model'"):
        load_config(path)


def test_valid_config_resolves_defaults(make_config) -> None:
    config = load_config(make_config())
    assert config.study.direction == "maximize"
    assert config.search_space["learning_rate"].log is True
    assert config.search_space["num_train_epochs"].low == 1
    assert isinstance(config.search_space["num_train_epochs"].low, int)
    assert config.to_dict()["study"]["storage"].startswith("sqlite:///")


def test_default_storage_is_sqlite_under_storage(make_config, delete) -> None:
    config = load_config(make_config({"study": {"storage": delete}}))
    assert config.storage_url == "sqlite:///storage/t.db"


def test_shipped_configs_load() -> None:
    repo = Path(__file__).resolve().parents[2]
    for path in sorted((repo / "study_configs").glob("*.yaml")):
        config = load_config(path)
        assert config.study.name
        # The resolved config is itself a loadable config.
        dumped = yaml.safe_load(config.to_yaml())
        assert dumped["study"]["name"] == config.study.name
