"""The shipped multi-class and text-pair studies, end to end as a user runs them: `hpo run`,
the report, `hpo predict`, and a resume with another metric refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import REPO

from hpo.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder to run from, with the tokenization cache inside it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HPO_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


#: The shipped config as it is, smaller: what these tests check (labels, metrics, report, the
#: model folder, predict) does not depend on how many trials searched or on the reference.
SMALLER = ["--set", "study.n_trials=2", "--set", "search_space.num_train_epochs.high=3"]


def _predict(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict]:
    capsys.readouterr()
    assert main(["predict", *argv]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_four_topics_with_string_labels(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(REPO / "study_configs" / "topics.yaml")
    assert main(["run", config, *SMALLER, "--no-reference", "--quiet"]) == 0
    root = workdir / "runs" / "topics"
    metrics = json.loads((root / "final" / "metrics.json").read_text())
    names = ["Business", "Sci/Tech", "Sports", "World"]
    assert metrics["metric"] == "macro_f1" and not metrics["test_carved"]
    assert metrics["confusion_matrix"]["labels"] == names
    matrix = metrics["confusion_matrix"]["rows_true_cols_pred"]
    assert len(matrix) == 4 and all(len(row) == 4 for row in matrix)
    assert sum(map(sum, matrix)) == metrics["n"] == 400
    assert set(metrics["per_class"]) == set(names)
    assert metrics["metric_ci95"][0] <= metrics["metric_value"] <= metrics["metric_ci95"][1]
    report = (root / "report.md").read_text()
    assert "| test macro-F1 | 95% CI |" in report
    assert "| Sci/Tech |" in report and "Search objective: validation macro-F1" in report
    for picture in ("test_accuracy.png", "test_macro_f1.png", "confusion_matrix.png"):
        assert (root / picture).stat().st_size > 0
    baselines = json.loads((root / "baselines.json").read_text())
    assert baselines["classical"]["confusion_matrix"]["labels"] == names
    assert baselines["zero_shot"]["applicable"] is False

    rows = _predict(capsys, str(root / "final" / "model"), "the striker scored in the match")
    assert rows[0]["label"] in names and set(rows[0]["probabilities"]) == set(names)
    assert sum(rows[0]["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)

    # The study maximized macro-F1; a resume that maximizes accuracy would mix two measures.
    db = workdir / "storage" / "topics.db"
    before = db.read_bytes()
    capsys.readouterr()
    assert main(["search", config, *SMALLER, "--set", "study.metric=accuracy", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "maximizes validation macro_f1" in err and len(err.strip().splitlines()) == 1
    assert db.read_bytes() == before, "a refused resume leaves the study as it was"


def test_sentence_pairs_with_carved_splits(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(REPO / "study_configs" / "pairs.yaml")
    assert main(["run", config, *SMALLER, "--no-reference", "--quiet"]) == 0
    root = workdir / "runs" / "pairs"
    metrics = json.loads((root / "final" / "metrics.json").read_text())
    assert metrics["test_carved"] and metrics["test_fraction"] == 0.2
    assert metrics["n"] == 320 and metrics["metric"] == "mcc"
    assert (
        "carved from the training data (data.test_fraction 0.2" in (root / "report.md").read_text()
    )
    record = json.loads((root / "final" / "model" / "hpo_final.json").read_text())
    assert record["text_pair_column"] == "sentence2" and record["labels"] == ["different", "same"]

    model = str(root / "final" / "model")
    pairs = workdir / "pairs.jsonl"
    pairs.write_text(
        json.dumps({"sentence1": "Shares and profit.", "sentence2": "Profit and shares."}) + "\n"
    )
    rows = _predict(capsys, model, "--file", str(pairs))
    assert rows[0]["label"] in ("different", "same")
    assert rows[0]["text_pair"] == "Profit and shares."
    assert set(rows[0]["probabilities"]) == {"different", "same"}
    capsys.readouterr()
    assert main(["predict", model, "one text alone"]) == 2
    assert "classifies text pairs" in capsys.readouterr().err


def test_the_shipped_assets_are_what_the_fixture_script_makes(tmp_path: Path) -> None:
    from tiny import build_synthetic_assets

    build_synthetic_assets(tmp_path)
    shipped = REPO / "study_configs" / "synthetic"
    for path in sorted(p for p in tmp_path.rglob("*") if p.is_file()):
        relative = path.relative_to(tmp_path)
        if path.name == "config.json":  # save_pretrained stamps the release that wrote it
            made, kept = (json.loads(p.read_text()) for p in (path, shipped / relative))
            made.pop("transformers_version")
            kept.pop("transformers_version")
            assert kept == made, relative
            continue
        assert (shipped / relative).read_bytes() == path.read_bytes(), relative
    shutil.rmtree(tmp_path)
