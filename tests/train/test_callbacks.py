"""Trainer callbacks of a trial: a warmup that covers the whole run is warned about."""

from __future__ import annotations

import pytest

from hpo.api import load_config
from hpo.search.loop import run_search

pytestmark = pytest.mark.slow


def test_warmup_longer_than_the_run_is_warned_about(
    make_config, caplog: pytest.LogCaptureFixture
) -> None:
    path = make_config(
        {
            "study": {"n_trials": 1},
            "search_space": {"warmup_steps": {"type": "int", "low": 500, "high": 600}},
        }
    )
    with caplog.at_level("WARNING", logger="hpo.train.callbacks"):
        run_search(load_config(path), quiet=True)
    assert any("covers the whole run" in r.getMessage() for r in caplog.records)
