"""The cluster benchmark end to end at a small size on a real PostgreSQL: every worker count
finishes its study exactly, the connections it saw are counted, and a killed host's trial is
measured until its rerun."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("HPO_TEST_POSTGRES_URL"),
        reason="set HPO_TEST_POSTGRES_URL (.ci/run starts PostgreSQL)",
    ),
]

REPO = Path(__file__).resolve().parents[2]


def test_the_cluster_bench_measures_what_it_prints(tmp_path: Path) -> None:
    url = os.environ["HPO_TEST_POSTGRES_URL"]
    command = [sys.executable, str(REPO / "bench" / "cluster.py"), "--storage", url]
    # Two trials a row: one each for two workers is enough to count throughput and connections.
    command += ["--workers", "1", "2", "--n-trials", "2", "--heartbeat", "1", "--grace", "3"]
    done = subprocess.run(
        [*command, "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env=os.environ | {"HF_HUB_OFFLINE": "1"},
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (record,) = tmp_path.glob("*.cluster.json")
    saved = json.loads(record.read_text())
    rows = saved["throughput"]
    assert [r["workers"] for r in rows] == [1, 2]
    for row in rows:
        assert row["finished"] == 2 and row["failed"] == 0 and not row["worker_errors"], row
        assert row["trials_per_minute"] > 0
        # Each worker holds at least its main connection while it trains.
        assert row["workers"] <= row["peak_connections"] <= 3 * row["workers"], row
        assert f"{row['workers']:3d} workers: 2/2 finished, 0 failed" in done.stdout
    loss = saved["loss_to_rerun"]
    assert (loss["heartbeat_interval_s"], loss["grace_period_s"]) == (1, 3)
    # The lost trial is failed no sooner than the grace period after its last heartbeat.
    assert loss["lost_trial"] is not None and loss["seconds_to_rerun"] >= 3 - 1, loss
    assert f"rerun started {loss['seconds_to_rerun']} s after the kill" in done.stdout
