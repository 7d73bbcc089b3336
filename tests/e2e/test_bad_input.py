"""Every kind of bad input: one clear line, exit code 2, and the stored study left as it was."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna
import pytest

from hpo.api import load_config
from hpo.cli import main
from hpo.search.loop import run_search


def _write_jsonl(
    folder: Path, rows: list[dict[str, Any]], test: list[dict[str, Any]] | None = None
) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if test is not None:
        (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in test))
    return str(folder)


def _cases(tmp: Path) -> list[tuple[str, dict[str, Any] | str, list[str], str]]:
    """(label, config update or raw YAML, extra argv, expected text in the error line)."""
    not_a_model = tmp / "not_a_model"
    not_a_model.mkdir()
    (not_a_model / "weights.txt").write_text("nothing here")
    a_file = tmp / "a_file"
    a_file.write_text("x")
    good_rows = [{"text": "fine", "label": i % 2} for i in range(10)]
    return [
        ("malformed YAML", "study: {name: [x\n", [], "malformed YAML at line"),
        ("unknown key", {"study": {"n_trail": 3}}, [], "study.n_trail: unknown key"),
        ("wrong type", {"study": {"n_trials": "3x"}}, [], "study.n_trials: expected int"),
        (
            "low > high",
            {"search_space": {"learning_rate": {"low": 1e-2, "high": 1e-4}}},
            [],
            "search_space.learning_rate: low must be < high",
        ),
        (
            "log with low <= 0",
            {"search_space": {"learning_rate": {"low": 0.0}}},
            [],
            "search_space.learning_rate: log scale needs low > 0",
        ),
        (
            "empty choices",
            {"search_space": {"per_device_train_batch_size": {"choices": []}}},
            [],
            "choices: must be a non-empty list",
        ),
        (
            "missing data path",
            {"data": {"path": str(tmp / "nope")}},
            [],
            "data.path: " + str(tmp / "nope") + " does not exist",
        ),
        (
            "no text column",
            {"data": {"path": _write_jsonl(tmp / "d1", [{"body": "x", "label": 1}] * 4)}},
            [],
            "no column 'text'",
        ),
        (
            "no label column",
            {"data": {"path": _write_jsonl(tmp / "d2", [{"text": "x", "y": 1}] * 4)}},
            [],
            "no column 'label'",
        ),
        (
            "one class only",
            {"data": {"path": _write_jsonl(tmp / "d3", [{"text": "x", "label": 1}] * 10)}},
            [],
            "every example has the label 'pos'; a classifier needs at least two classes",
        ),
        (
            "a test label that train lacks",
            {"data": {"path": _write_jsonl(tmp / "d5", good_rows, [{"text": "x", "label": 7}])}},
            [],
            "(test split): label 7 (1 examples, first at row 0) is not among the training",
        ),
        (
            "mixed label types",
            {"data": {"path": _write_jsonl(tmp / "d6", [*good_rows, {"text": "x", "label": "b"}])}},
            [],
            "mixes numbers and names, and ['b'] are not among data.label_names ['neg', 'pos']",
        ),
        (
            "empty pair text",
            {
                "data": {
                    "path": _write_jsonl(
                        tmp / "d7",
                        [{**r, "hyp": "" if i == 3 else "y"} for i, r in enumerate(good_rows)],
                    ),
                    "text_pair_column": "hyp",
                }
            },
            [],
            "1 empty or missing texts in column 'hyp' (first at row 3)",
        ),
        (
            "a class too small to stratify",
            {
                "data": {
                    "path": _write_jsonl(
                        tmp / "d8",
                        [{"text": "x", "label": "ab"[i % 2]} for i in range(10)]
                        + [{"text": "x", "label": "c"}],
                    )
                }
            },
            [],
            "class 'c' has 1 training example(s)",
        ),
        (
            "unknown metric",
            {"study": {"metric": "f2"}},
            [],
            "study.metric: unknown metric 'f2'. Valid: accuracy, macro_f1, weighted_f1, mcc, f1",
        ),
        (
            "binary F1 on three classes",
            {
                "study": {"metric": "f1"},
                "data": {
                    "path": _write_jsonl(
                        tmp / "d9", [{"text": "x", "label": "abc"[i % 3]} for i in range(30)]
                    )
                },
            },
            [],
            "study.metric: f1 is the F1 of one positive class, for two classes; this data has 3",
        ),
        (
            "empty texts",
            {"data": {"path": _write_jsonl(tmp / "d4", [*good_rows, {"text": "", "label": 1}])}},
            [],
            "1 empty or missing texts",
        ),
        (
            "unreachable hub dataset",
            {"data": {"path": None, "dataset": "imdb"}},
            [],
            "HF_HUB_OFFLINE",
        ),
        (
            "unreachable hub model",
            {"model": {"name": "distilbert-base-uncased"}},
            [],
            "without network, set model.name to a local folder".capitalize(),
        ),
        (
            "malformed storage URL",
            {},
            ["--storage", "sqlite//no-scheme.db"],
            "malformed storage URL",
        ),
        (
            "unwritable storage dir",
            {},
            ["--storage", f"sqlite:///{a_file}/sub/x.db"],
            "cannot create folder",
        ),
        (
            "different search space",
            {"study": {"name": "t"}},
            ["--set", "search_space.learning_rate.high=9e-3"],
            "different search space",
        ),
        (
            "model path not a model",
            {"model": {"name": str(not_a_model)}},
            [],
            "is not a model folder (no config.json)",
        ),
    ]


@pytest.mark.slow
def test_bad_inputs(make_config, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A study with one finished trial, which no failure below may touch.
    base = make_config({"study": {"n_trials": 1}}, name="base.yaml")
    storage = load_config(base).storage_url
    run_search(load_config(base), quiet=True)

    def snapshot() -> tuple[list[str], list[tuple[int, str, float | None]]]:
        names = sorted(optuna.get_all_study_names(storage))
        trials = optuna.load_study(study_name="t", storage=storage).trials
        return names, [(t.number, t.state.name, t.value) for t in trials]

    before = snapshot()
    cases = _cases(tmp_path)
    for label, update, extra, expected in cases:
        if isinstance(update, str):
            path = tmp_path / "raw.yaml"
            path.write_text(update)
        else:
            update = {
                "study": {"name": "fresh", **update.get("study", {})},
                **{k: v for k, v in update.items() if k != "study"},
            }
            path = make_config(update, name=f"{label.replace(' ', '_')}.yaml")
        capsys.readouterr()
        code = main(["search", str(path), "--quiet", *extra])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2, label
        assert len(err) == 1, (label, err)
        assert err[0].startswith("hpo: error: "), (label, err)
        assert expected in err[0], (label, err[0])
        assert snapshot() == before, f"{label}: storage changed"
    assert len(cases) == 23
