"""The frozen dataclasses of a study config: defaults, and plain data that reproduces them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml

from hpo.config.schema import HpoConfig, ModelSection, ParamSpec, StudySection, absolute_sqlite_url
from hpo.config.validate import config_from_dict


def test_defaults_fill_storage_and_output_folder() -> None:
    config = HpoConfig(study=StudySection(name="s"), model=ModelSection(name="m"))
    assert config.storage_url == "sqlite:///storage/s.db"
    assert config.output_dir == Path("runs/s")
    assert config.reference["warmup_steps"] == "auto"


def test_a_param_spec_is_written_as_a_user_writes_it() -> None:
    assert ParamSpec("float", low=1e-5, high=1e-4, log=True).to_dict() == {
        "type": "float",
        "low": 1e-5,
        "high": 1e-4,
        "log": True,
    }
    assert ParamSpec("categorical", choices=[16, 32]).to_dict() == {
        "type": "categorical",
        "choices": [16, 32],
    }


def test_to_yaml_loads_back_to_the_same_config() -> None:
    raw = {
        "study": {"name": "s", "n_trials": 3},
        "model": {"name": "m"},
        "data": {"path": "/d"},
        "search_space": {"learning_rate": {"type": "float", "low": 1e-5, "high": 1e-4}},
    }
    config = config_from_dict(raw)
    again = config_from_dict(yaml.safe_load(config.to_yaml()))
    assert again.to_dict() == config.to_dict()
    assert again.search_space == config.search_space and again.data == config.data


def test_absolute_sqlite_url_only_touches_relative_sqlite_files(tmp_path: Path) -> None:
    assert absolute_sqlite_url("sqlite:///a/b.db", tmp_path) == f"sqlite:///{tmp_path}/a/b.db"
    assert absolute_sqlite_url("sqlite:////abs.db", tmp_path) == "sqlite:////abs.db"
    assert absolute_sqlite_url("postgresql://h/db", tmp_path) == "postgresql://h/db"


def test_the_trainer_setup_holds_what_training_reads_and_no_more() -> None:
    config = config_from_dict(
        {
            "study": {"name": "s", "metric": "f1", "evals_per_epoch": 3, "storage": "sqlite:///x"},
            "model": {"name": "m"},
            "data": {"path": "/d", "positive_label": "pos", "cache_dir": "/c"},
            "training": {"seed": 7},
            "search_space": {"learning_rate": {"type": "float", "low": 1e-5, "high": 5e-5}},
        }
    )
    setup = config.trainer_setup
    assert (setup.metric, setup.positive_label, setup.evals_per_epoch) == ("f1", "pos", 3)
    assert setup.training == {"seed": 7} and setup.model is config.model
    assert setup.study_name == "s" and setup.output_dir == Path("runs/s")
    # Training never sees where the data, the cache or the trials' storage are.
    held = {f.name for f in dataclasses.fields(setup)}
    assert not held & {"data", "study", "storage", "cache_dir", "source", "explicit"}
