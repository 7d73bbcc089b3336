"""hpo.config.loader: YAML with numbers as numbers, --set overrides, paths against their folder."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hpo.api import load_config
from hpo.config.loader import parse_yaml
from hpo.errors import ConfigError


def test_malformed_yaml_names_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("study:\n  name: [x\n")
    with pytest.raises(ConfigError, match=r"malformed YAML at line \d+"):
        load_config(path)


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config("nope/none.yaml")


def test_exponent_floats_are_floats() -> None:
    # PyYAML's YAML 1.1 resolver would give the string "1e-5".
    assert parse_yaml("a: 1e-5\nb: 2E+3\nc: 1.5\nd: '1e-5'", source="x") == {
        "a": 1e-5,
        "b": 2000.0,
        "c": 1.5,
        "d": "1e-5",
    }


def test_dotted_overrides_and_shortcuts(make_config) -> None:
    config = load_config(
        make_config(),
        [
            "data.path=/somewhere/else",
            "study.n_trials=7",
            "search_space.learning_rate.high=1e-2",
            "training.logging_steps=3",
        ],
        study_name="other",
    )
    assert config.data.path == "/somewhere/else"
    assert config.study.n_trials == 7
    assert config.search_space["learning_rate"].high == 1e-2
    assert config.training["logging_steps"] == 3
    assert config.study.name == "other"


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("study.n_trials", "expected KEY=VALUE"),
        ("study.name.x=1", "'study.name' is a str, not a mapping"),
        ("study.n_trials=three", "study.n_trials: expected int"),
        ("model.nme=x", "model.nme: unknown key"),
    ],
)
def test_bad_overrides(make_config, override: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected.replace(".", r"\.")):
        load_config(make_config(), [override])


def test_paths_in_a_file_resolve_against_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paths written in the file: against the file's folder; --set ones: against the current
    folder; the defaults stay under the current folder, and a saved config is absolute."""
    folder = tmp_path / "configs"
    (folder / "model").mkdir(parents=True)
    (folder / "model" / "config.json").write_text("{}")
    raw = {
        "study": {"name": "p", "storage": "sqlite:///db/p.db"},
        "model": {"name": "model"},
        "data": {"path": "../data", "cache_dir": "~/hpo-cache"},
        "search_space": {"learning_rate": {"type": "float", "low": 1e-5, "high": 1e-4}},
        "training": {"output_dir": "out"},
    }
    path = folder / "s.yaml"
    path.write_text(yaml.safe_dump(raw))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    config = load_config(path, check_training=False)
    assert config.model.name == str(folder / "model")
    assert config.data.path == str(tmp_path / "data")
    assert config.data.cache_dir == str(Path("~/hpo-cache").expanduser())
    assert config.storage_url == f"sqlite:///{folder / 'db' / 'p.db'}"
    assert config.output_dir == folder / "out"

    config = load_config(
        path,
        ["data.path=here", "model.name=distilbert-base-uncased", "training.output_dir=o"],
        check_training=False,
        storage="sqlite:///s.db",
    )
    assert config.data.path == str(cwd / "here")
    assert config.model.name == "distilbert-base-uncased", "a name that is no path: a hub id"
    assert config.output_dir == cwd / "o"
    assert config.storage_url == f"sqlite:///{cwd / 's.db'}"

    # Defaults: under the current folder; absolute in the saved form.
    del raw["study"]["storage"], raw["training"]["output_dir"]
    path.write_text(yaml.safe_dump(raw))
    config = load_config(path, check_training=False)
    assert config.storage_url == "sqlite:///storage/p.db"
    saved = config.to_dict(absolute=True)
    assert saved["study"]["storage"] == f"sqlite:///{cwd / 'storage' / 'p.db'}"
    assert saved["training"]["output_dir"] == str(cwd / "runs" / "p")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("distilbert-base-uncased", "distilbert-base-uncased"),
        ("org/model", "org/model"),
        ("packaged:all-MiniLM-L6-v2", "packaged:all-MiniLM-L6-v2"),
        ("./missing", "{folder}/missing"),
        ("../up", "{parent}/up"),
    ],
)
def test_model_name_is_a_path_only_when_it_looks_like_one(
    tmp_path: Path, name: str, expected: str
) -> None:
    from hpo.config.loader import resolve_paths

    raw = {"model": {"name": name}}
    resolve_paths(raw, base=tmp_path / "f", keys=("model.name",))
    assert raw["model"]["name"] == expected.format(folder=tmp_path / "f", parent=tmp_path)


def test_saved_config_loads_back_to_the_same_config(make_config, tmp_path: Path) -> None:
    config = load_config(make_config(), ["data.max_length=40"])
    saved = tmp_path / "saved.yaml"
    saved.write_text(config.to_yaml(absolute=True))
    again = load_config(saved)
    assert again.to_dict(absolute=True) == config.to_dict(absolute=True)
    assert again.data.max_length == 40
