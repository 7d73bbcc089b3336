"""Memory between trials: the figures are real, and the heap release never fails."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import hpo.train.memory
from hpo.train.memory import memory_mb, release_heap


def test_memory_figures_are_the_processes_own() -> None:
    rss, peak = memory_mb()
    assert 0 < rss <= peak * 1.01  # the high-water mark is at least what is resident now
    grown = bytearray(64 * 2**20)  # 64 MiB more, touched
    grown[::4096] = b"x" * len(grown[::4096])
    assert memory_mb()[0] > rss + 32
    del grown


def test_release_trims_where_there_is_a_c_library(monkeypatch: pytest.MonkeyPatch) -> None:
    trims: list[int] = []
    monkeypatch.setattr(hpo.train.memory, "libc", lambda: SimpleNamespace(malloc_trim=trims.append))
    release_heap()
    assert trims == [0]
    monkeypatch.setattr(hpo.train.memory, "libc", lambda: None)  # no C library: nothing to do
    release_heap()
