"""The equal-budget benchmark's bookkeeping (its runs are too long for a test): the arms after
the first plan from the first arm's measurement of the machine."""

from __future__ import annotations

import json
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


def test_the_grid_hands_over_what_validation_chose() -> None:
    from equal_budget import chosen

    rows = {
        "a": {"validation": {"tuned": 0.99}},  # (a) is not part of the grid
        "b": {"validation": {"tuned": 0.90}},
        "v1": {"validation": {"tuned": 0.93}, "tuned_accuracy": 0.80},
        "v2": {"validation": {"tuned": 0.93}},
        "v3": {"exit_code": 1},  # failed: no validation figure
    }
    assert chosen(rows) == "v1"  # a tie goes to the earlier arm
    rows["b"]["validation"]["tuned"] = 0.93
    assert chosen(rows) == "b"
    assert chosen({"a": {"validation": {"tuned": 0.5}}}) is None


def _data(folder: Path, n: int = 40) -> None:
    """A train and a test split of ``n`` short texts in 2 classes, as JSON lines."""
    lines = [
        json.dumps({"text": f"text {i} {'good' if i % 2 else 'bad'}", "label": i % 2})
        for i in range(n)
    ]
    for split in ("train", "test"):
        (folder / f"{split}.jsonl").write_text("\n".join(lines) + "\n")


def test_a_varied_default_leaves_the_key_to_training(tmp_path: Path) -> None:
    from equal_budget import vary_sets

    from hpo.api import load_config
    from hpo.final.retrain import plan_default

    _data(tmp_path)
    (sets,) = vary_sets(str(tmp_path), [], "learning_rate", ["1e-4"])
    config = load_config(
        None, ["study.n_trials=0", *sets], data=str(tmp_path), check_training=False
    )
    assert "learning_rate" not in config.search_space
    assert "weight_decay" in config.search_space
    assert config.training["learning_rate"] == 1e-4
    params = plan_default(config.search_space, config.training, epochs=3).params
    assert "learning_rate" not in params  # so training's 1e-4 is what trains
    assert params["per_device_train_batch_size"] == 32  # the rest of the default stays


def test_only_a_searched_key_can_be_varied(tmp_path: Path) -> None:
    import pytest
    from equal_budget import vary_sets

    _data(tmp_path)
    with pytest.raises(SystemExit, match="not a key of the search space"):
        vary_sets(str(tmp_path), [], "seed", ["1"])
