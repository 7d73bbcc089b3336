"""The Python API: each CLI job one call, with the errors the CLI prints as one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import hpo
from hpo.cli import main


def test_load_config_applies_overrides_and_shortcuts(make_config) -> None:
    config = hpo.load_config(
        make_config(), ["study.n_trials=5", "data.max_length=40"], study_name="nb"
    )
    assert isinstance(config, hpo.HpoConfig)
    assert (config.study.n_trials, config.data.max_length, config.study.name) == (5, 40, "nb")


def test_errors_name_the_file_and_the_key(make_config) -> None:
    path = make_config({"search_space": {"learning_rat": {"type": "float", "low": 1, "high": 2}}})
    with pytest.raises(hpo.ConfigError, match=rf"^{path}: search_space.learning_rat: ") as info:
        hpo.load_config(path)
    assert "\n" not in str(info.value)
    # Without the checks that need Transformers, the structure alone loads.
    assert hpo.load_config(path, check_training=False).search_space["learning_rat"].high == 2


def test_open_study_creates_nothing(make_config, tmp_path: Path) -> None:
    config = hpo.load_config(make_config())
    with pytest.raises(hpo.StorageError, match="does not exist"):
        hpo.open_study(config)
    assert not (tmp_path / "storage").exists()


@pytest.mark.slow
def test_search_run_and_predict_match_the_cli(
    make_config, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = hpo.load_config(make_config({"study": {"n_trials": 2}}))
    study = hpo.run_search(config, quiet=True)
    assert len(study.trials) == 2
    assert hpo.open_study(config).best_trial.params == study.best_trial.params
    report = hpo.run(config, with_reference=False, quiet=True)
    assert report == config.output_dir / "report.md" and report.is_file()

    model = config.output_dir / "final" / "model"
    texts = ["loved it, brilliant acting", "dull, boring and far too long"]
    predictor = hpo.load_predictor(model)
    assert predictor.record.max_length == config.data.max_length
    ours = predictor.predict(texts)
    assert main(["predict", str(model), *texts]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert ours == printed
    assert {row["label"] for row in ours} <= {"neg", "pos"}


def test_plan_budget_from_the_default_config(tiny_models, tiny_data, tmp_path: Path) -> None:
    config = hpo.load_config(
        None,
        [f"data.cache_dir={tmp_path / 'cache'}"],
        data=tiny_data,
        model=str(tiny_models["bert"]),
        budget="3m",
    )
    assert config.study.name == tiny_data.name
    assert config.model.name == str(tiny_models["bert"])
    assert "data.max_length" not in config.explicit  # left to the planner
    plan = hpo.plan_budget(config)
    assert plan.budget_seconds == 180 and plan.total_seconds <= 180
    assert {c.key for c in plan.choices} >= {"data.max_length", "study.n_trials"}
    assert not (tmp_path / "storage").exists() and not (tmp_path / "runs").exists()
    with pytest.raises(hpo.ConfigError, match=r"a plan needs a budget: pass --budget"):
        hpo.plan_budget(hpo.load_config(None, data=tiny_data, model=str(tiny_models["bert"])))


def test_no_config_needs_data() -> None:
    with pytest.raises(hpo.ConfigError, match="--data DIR"):
        hpo.load_config(None)


def test_a_search_of_no_trials_is_refused_and_creates_nothing(make_config, tmp_path: Path) -> None:
    config = hpo.load_config(make_config({"study": {"n_trials": 0}}))
    with pytest.raises(hpo.ConfigError, match=r"study.n_trials is 0: there is nothing to search"):
        hpo.run_search(config)
    assert not (tmp_path / "storage").exists()
