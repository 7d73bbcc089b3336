"""The equal-budget benchmark's bookkeeping (its runs are too long for a test): the arms after
the first plan from the first arm's measurement of the machine."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))


def test_the_later_arms_read_the_first_arms_cache(tmp_path: Path) -> None:
    from budget import seed_machine_cache
    from equal_budget import cache_of

    work = tmp_path / "a" / "30m"
    (work / "cache" / "machine").mkdir(parents=True)
    (work / "cache" / "machine" / "rates.json").write_text("{}")
    row = {"runs": str(work / "runs" / "study")}
    assert Path(cache_of(row)) == work / "cache"
    seed_machine_cache(cache_of(row), tmp_path / "c" / "cache")
    assert (tmp_path / "c" / "cache" / "machine" / "rates.json").read_text() == "{}"
