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


def _stubbed(monkeypatch, run_one, labels: list[int], argv: list[str]) -> dict:
    """Run the benchmark's main with ``run_one`` in place of real runs (each row's ``test``:
    its predictions) and return the record it would write."""
    import _record
    import equal_budget

    written: dict = {}
    monkeypatch.setattr(equal_budget, "run_one", run_one)
    monkeypatch.setattr(equal_budget, "default_length", lambda data, sets: 32)
    monkeypatch.setattr(equal_budget, "run_labels", lambda row: labels)
    monkeypatch.setattr(
        equal_budget, "_predictions", lambda row: {"tuned": row["test"], "shipped": row["test"]}
    )
    monkeypatch.setattr(_record, "write", lambda out, name, record: written.update(record))
    monkeypatch.setattr(sys, "argv", ["equal_budget.py", "--data", "d", "--budget", "1m", *argv])
    equal_budget.main()
    return written


def _row(root: Path, right: int, labels: list[int]) -> dict:
    """A finished run's figures: ``right`` of ``labels`` predicted right, the first missed."""
    return {
        "runs": str(root / "runs" / "study"),
        "seconds": 60.0,
        "ratio_to_budget": 0.95,
        "choices": {"data.max_length": 32, "study.n_trials": 0},
        "stop_epoch": 1.0,
        "tuned_accuracy": right / len(labels),
        "tuned_ci95": [0.1, 0.9],
        "shipped_accuracy": right / len(labels),
        "validation": {"tuned": 0.5},
        "test": [1 - y for y in labels[: len(labels) - right]] + labels[len(labels) - right :],
    }


def test_every_arm_runs_at_every_seed_and_meets_its_base_at_the_same_seed(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    calls: list[tuple[str, list[str]]] = []
    labels = [0, 1, 0, 1]

    def run_one(args, budget: str, root: Path) -> dict:
        calls.append((str(root.relative_to(tmp_path)), list(args.set)))
        seed = int(args.set[-1].removeprefix("training.seed="))
        arm = "b" if "study.n_trials=0" in args.set else "a"
        right = 3 if (arm, seed) != ("a", 43) else 2  # (a) at seed 43 misses one more
        return _row(root, right, labels)

    written = _stubbed(
        monkeypatch, run_one, labels, ["--seeds", "42,43", "--workdir", str(tmp_path)]
    )

    # One seed after the other, every arm at each, the seed set last.
    assert [c[0] for c in calls] == ["a/42", "b/42", "a/43", "b/43"]
    assert [c[1][-1] for c in calls] == ["training.seed=42"] * 2 + ["training.seed=43"] * 2
    arms = written["arms"]
    assert list(arms) == ["a@42", "b@42", "a@43", "b@43"]
    assert arms["b@43"]["seed"] == 43 and arms["b@43"]["arm"] == "b"
    # (b) is compared with (a) at its own seed: at 42 they agree, at 43 one example apart.
    assert arms["b@42"]["a_vs_this_tuned_p"] == 1.0
    assert arms["b@43"]["a_vs_this_tuned_p"] == 1.0  # one discordant example: McNemar p 1
    spread = written["across_seeds"]["b"]["tuned"]
    assert spread["minus_a"]["by_seed"] == {42: 0.0, 43: 0.25}
    assert written["seeds"] == [42, 43]
    out = capsys.readouterr().out
    assert "across seeds" in out and "no search (default)@43" in out


def test_seeds_must_be_whole_numbers(monkeypatch, capsys) -> None:
    import equal_budget
    import pytest

    argv = ["equal_budget.py", "--data", "d", "--budget", "1m", "--seeds", "42,4x"]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as stop:
        equal_budget.main()
    assert stop.value.code == 2
    assert "--seeds '42,4x': '4x' is not a whole number" in capsys.readouterr().err


def test_without_seeds_each_arm_runs_once_under_its_own_name(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    sets: list[list[str]] = []
    labels = [0, 1]

    def run_one(args, budget: str, root: Path) -> dict:
        sets.append(list(args.set))
        return _row(root, 2, labels)

    written = _stubbed(monkeypatch, run_one, labels, ["--workdir", str(tmp_path)])
    assert list(written["arms"]) == ["a", "b"]
    assert not any("training.seed" in item for run in sets for item in run)
    assert written["arms"]["b"]["a_vs_this_tuned_p"] == 1.0
    assert written["seeds"] == [None] and written["across_seeds"] is None
    out = capsys.readouterr().out
    assert "across seeds" not in out and "no search (default)  " in out
