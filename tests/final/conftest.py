"""Fixtures of the final stage's tests: a stored study whose tiny model has learned."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpo.api import load_config
from hpo.search.loop import run_search

#: Epochs enough for the tiny model to learn, so the final stage has a best trial worth testing.
LEARNS = {"study": {"n_trials": 2}, "search_space": {"num_train_epochs": {"low": 3, "high": 4}}}


@pytest.fixture
def searched(make_config) -> Path:
    """A config whose study has 2 finished trials."""
    path = make_config(LEARNS)
    run_search(load_config(path), quiet=True)
    return path
