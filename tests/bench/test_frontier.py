"""The frontier benchmark: its choice rule, and one point end to end on the smoke study."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def _frontier() -> Any:
    spec = importlib.util.spec_from_file_location("frontier", REPO / "bench" / "frontier.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _point(name: str, accuracy: float, minutes: float) -> dict[str, Any]:
    return {
        "point": name,
        "validation_accuracy": accuracy,
        "validation_reviews": 2500,
        "projected_minutes": {"total": minutes},
    }


def test_choice_is_the_fastest_point_within_one_standard_error() -> None:
    choose = _frontier().choose
    # One standard error at 0.8756 on 2,500 reviews is 0.0066.
    points = [
        _point("fast", 0.850, 40.0),
        _point("close", 0.8724, 57.0),
        _point("top", 0.8756, 84.0),
    ]
    assert choose(points)["point"] == "close"
    # Outside one standard error, the top point wins however long it takes.
    points[1] = _point("close", 0.8680, 57.0)
    assert choose(points)["point"] == "top"
    assert choose([]) is None


def test_projection_grows_with_the_time_per_review() -> None:
    project = _frontier().project_minutes
    slow = project(10.0, 50.0, search_reviews=2000, eval_reviews=1000)
    fast = project(20.0, 100.0, search_reviews=2000, eval_reviews=1000)
    assert slow["total"] > fast["total"]
    assert slow["total"] == pytest.approx(slow["search"] + slow["final"], abs=0.11)
    # 25,000 reviews trained at 10/s and 25,000 scored at 50/s, a model load of 6 s and 30 s
    # of baselines: 50.6 minutes.
    assert slow["final"] == pytest.approx(50.6, abs=0.05)


@pytest.mark.slow
def test_a_point_trains_and_scores_the_whole_validation_split(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    frontier = _frontier()
    argv = [
        "frontier.py",
        "--config",
        str(REPO / "study_configs" / "smoke.yaml"),
        "--data",
        str(REPO / "study_configs" / "smoke" / "data"),
        "--points",
        "32:head+tail:40",
        "--out",
        str(tmp_path),
    ]
    monkeypatch.setattr(sys, "argv", argv)
    frontier.main()
    (path,) = tmp_path.glob("*.frontier.json")
    record = json.loads(path.read_text())
    (row,) = record["points"]
    assert row["train_reviews"] == 40
    assert row["max_length"] == 32 and row["truncation"] == "head+tail"
    # The whole validation split, not the config's max_eval_samples cap.
    assert row["validation_reviews"] > 0
    lo, hi = row["validation_ci95"]
    assert 0.0 <= lo <= row["validation_accuracy"] <= hi <= 1.0
    assert row["projected_minutes"]["total"] > 0
    assert record["chosen_within_budget"] in (None, row["point"])
    out = capsys.readouterr().out
    assert "chosen by the one-standard-error rule" in out
