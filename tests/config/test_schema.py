"""The frozen dataclasses of a study config: defaults, and plain data that reproduces them."""

from __future__ import annotations

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
