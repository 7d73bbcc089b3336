"""The search speed benchmark, end to end at a tiny size: it must measure what it says."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow


REPO = Path(__file__).resolve().parents[2]


def _bench_module() -> Any:
    path = REPO / "bench" / "search_speed.py"
    spec = importlib.util.spec_from_file_location("search_speed", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_search_speed_bench_compares_like_with_like(
    tiny_models: dict[str, Path],
    tiny_data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bench = _bench_module()
    monkeypatch.chdir(REPO)
    n_trials = 2  # both the sampler's random start-up trials: compared param for param below
    argv = [
        "--config",
        "study_configs/smoke.yaml",
        "--data",
        str(tiny_data),
        "--set",
        f"model.name={tiny_models['bert']}",
        "--set",
        "search_space.num_train_epochs={type: int, low: 1, high: 2}",
        "--n-trials",
        str(n_trials),
        "--train",
        "96",
        "--eval",
        "64",
        "--max-length",
        "64",
        "--out",
        str(tmp_path / "results"),
        "--workdir",
        str(tmp_path / "work"),
    ]
    assert bench.main(argv) == 0
    [path] = (tmp_path / "results").glob("*.json")
    record = json.loads(path.read_text())
    ours, plain = record["ours"], record["plain"]
    trials = record["trials"]

    # Same sampler seed, same space: the random start-up trials get the same params.
    startup = 2  # smoke.yaml: TPESampler n_startup_trials
    assert [t["params"] for t in trials["ours"][:startup]] == [
        t["params"] for t in trials["plain"][:startup]
    ]
    assert ours["n_trials"] == plain["n_trials"] == n_trials

    # The plain recipe pads every review to max_length; ours pads each batch to its longest.
    assert plain["padding_efficiency"] < ours["padding_efficiency"] <= 1.0
    for t in trials["plain"]:
        assert t["tokens_processed"] == 96 * 64 * t["params"]["num_train_epochs"]

    # The plain recipe checkpoints every epoch; our trials write none.
    epochs = sum(t["params"]["num_train_epochs"] for t in trials["plain"])
    assert record["prep"]  # prep timings ran
    assert not list((tmp_path / "work" / "ours").rglob("checkpoint-*"))
    assert len(list((tmp_path / "work" / "plain").rglob("checkpoint-*"))) == epochs

    # Time inside steps and evaluations is part of each trial's wall time, never more.
    for side in ("ours", "plain"):
        for t in trials[side]:
            assert 0 < t["step_seconds"] + t["eval_seconds"] <= t["wall_seconds"]
        assert len(record[side]["peak_rss_mb"]) == n_trials
    # The recipe runs Transformers' default kernel; ours records the ones its model ran.
    for loop in ("train", "eval"):
        assert {t[f"{loop}_attn_implementation"] for t in trials["plain"]} == {"sdpa"}
    assert {t["train_attn_implementation"] for t in trials["ours"]} <= {"eager", "sdpa"}
    assert {t["eval_attn_implementation"] for t in trials["ours"]} == {"sdpa"}
    # Ours keeps PyTorch's dropout masks unless packed ones are asked for; the recipe records
    # none.
    assert {t["dropout_masks"] for t in trials["ours"]} == {"torch"}
    assert {t["dropout_masks"] for t in trials["plain"]} == {None}

    # The tokenization cache: a cold first run, a hit on the second.
    assert record["prep"]["ours_cold"]["cache_hit"] is False
    assert record["prep"]["ours_warm"]["cache_hit"] is True
    assert record["prep"]["ours_warm"]["reviews"] == 600

    # Throughput and time per epoch come from the completed trials, which trained 96 reviews
    # per epoch: an epoch's wall time covers at least its training steps.
    for side in ("ours", "plain"):
        done = [t for t in trials[side] if t["state"] == "COMPLETE"]
        epochs = sum(t["params"]["num_train_epochs"] for t in done)
        steps = sum(t["step_seconds"] for t in done)
        assert record[side]["train_samples_per_second"] == pytest.approx(96 * epochs / steps)
        assert record[side]["seconds_per_epoch"] >= 96 / record[side]["train_samples_per_second"]

    # Ratios are ours/plain, and each target carries its verdict.
    assert record["ratios"]["total_seconds"] == pytest.approx(
        ours["total_seconds"] / plain["total_seconds"]
    )
    assert set(record["targets"]) == {
        "wall_ratio",
        "accuracy_drop",
        "padding_efficiency",
        "overhead",
        "warm_prep_seconds",
        "rss_growth",
    }
    assert "| best validation accuracy |" in record["table"]

    # A second run into the same --workdir would resume one study and trip over the other.
    assert bench.main(argv) == 2
    assert "holds ours.db, plain.db from an earlier run" in capsys.readouterr().out
