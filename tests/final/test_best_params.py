"""The best params exported with provenance, and read back against the search space."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hpo.api import load_config
from hpo.cli import main
from hpo.errors import ConfigError
from hpo.final.best_params import load_params
from hpo.search.storage import load_existing_study

pytestmark = pytest.mark.slow


def test_export_round_trip(searched: Path, tmp_path: Path) -> None:
    config = load_config(searched)
    out = tmp_path / "best.yaml"
    assert main(["export", str(searched), "-o", str(out)]) == 0
    doc = yaml.safe_load(out.read_text())
    study = load_existing_study(config.study.name, config.storage_url, config.source)
    assert doc["params"] == study.best_trial.params
    prov = doc["provenance"]
    assert prov["trial_number"] == study.best_trial.number
    assert prov["validation_value"] == study.best_trial.value and prov["metric"] == "accuracy"
    assert prov["labels"] == ["neg", "pos"]
    assert prov["data_fingerprint"] == study.user_attrs["data_fingerprint"]
    assert prov["split_seed"] == config.data.split_seed
    assert {"torch", "transformers", "optuna"} <= set(prov["packages"])
    assert prov["hardware"]["cpu_count"] >= 1 and prov["exported_at"]
    evals = study.best_trial.user_attrs["evals"]
    assert prov["peak_epoch"] == max(evals, key=lambda e: e["accuracy"])["epoch"]
    params, peak = load_params(out, config.search_space)
    assert params == study.best_trial.params and peak == prov["peak_epoch"]


def test_load_params_rejects_foreign_files(searched: Path, tmp_path: Path) -> None:
    config = load_config(searched)
    bad = tmp_path / "bad.yaml"
    bad.write_text("params: {learning_rate: 0.001}\n")
    with pytest.raises(ConfigError, match="missing: num_train_epochs, per_device_train_batch"):
        load_params(bad, config.search_space)
    bad.write_text(
        "params: {learning_rate: 9.0, num_train_epochs: 1, per_device_train_batch_size: 16}\n"
    )
    with pytest.raises(ConfigError, match=r"params\.learning_rate: the value 9\.0 is outside"):
        load_params(bad, config.search_space)
