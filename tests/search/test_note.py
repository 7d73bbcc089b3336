"""The dashboard's study note, written from the study's own stored config."""

from __future__ import annotations

import pytest

from hpo.api import load_config
from hpo.search.note import study_note

pytestmark = pytest.mark.slow


def test_study_note_without_completed_trials(make_config) -> None:
    import optuna

    config = load_config(make_config())
    study = optuna.create_study(direction="maximize")
    study.set_user_attr("config.model", config.to_dict()["model"])
    study.set_user_attr("config_file", "/somewhere/runs/t/config.yaml")
    note = study_note(study)
    assert "No trial has completed yet." in note and "hpo search" in note
    assert f"`{config.model.name}`" in note
    assert "hpo search /somewhere/runs/t/config.yaml" in note
