"""Is the Hub reachable: offline mode asked for is never probed, and datasets follows it."""

from __future__ import annotations

import pytest

from hpo.data import hub


def test_offline_requested_skips_the_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub.hub_reachable.cache_clear()
    assert hub.offline_requested() and not hub.hub_reachable() and hub.local_only()
    hub.hub_reachable.cache_clear()


def test_datasets_offline_is_set_for_one_call_only() -> None:
    import datasets.config

    before = datasets.config.HF_HUB_OFFLINE
    with hub.datasets_offline(True):
        assert datasets.config.HF_HUB_OFFLINE
    assert before == datasets.config.HF_HUB_OFFLINE
