"""`hpo run` end to end on the smoke study, from any folder, with the reference measured."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml

from hpo.api import load_config, load_predictor
from hpo.cli import main
from hpo.data.splits import final_splits
from hpo.final.choice import Choice

pytestmark = pytest.mark.slow


# From another folder (the paths in the file resolve against the file's folder):
# tests/config/test_loader.py, tests/cli/test_commands.py and, on Slurm, tests/e2e/test_slurm.py.
@pytest.mark.parametrize("where", ["repository root"])
def test_hpo_run_smoke_end_to_end(
    where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = Path(__file__).resolve().parents[2]
    # The smoke config's paths are relative to its own folder, so it runs from anywhere.
    cwd = repo if where == "repository root" else tmp_path / "elsewhere"
    cwd.mkdir(exist_ok=True)
    monkeypatch.chdir(cwd)
    config_arg = (
        "study_configs/smoke.yaml" if cwd == repo else str(repo / "study_configs/smoke.yaml")
    )
    runs = tmp_path / "runs"
    argv = [
        "run",
        config_arg,
        "--quiet",
        "--storage",
        f"sqlite:///{tmp_path / 'smoke.db'}",
        "--set",
        f"training.output_dir={runs}",
        "--set",
        f"data.cache_dir={tmp_path / 'c'}",
    ]
    assert main(argv) == 0
    assert capsys.readouterr().out.strip() == f"report: {runs / 'report.md'}"
    report = (runs / "report.md").read_text()
    for png in ("test_accuracy.png", "optimization_history.png", "param_importances.png"):
        assert (runs / png).stat().st_size > 5_000
        assert f"]({png})" in report
    assert "classical: TF-IDF + logistic regression" in report
    assert "McNemar's exact test on the 400 paired test examples" in report
    assert "No text appears in both the training and the test split." in report
    assert "<details>" not in report
    assert "Importances are computed from" in report
    metrics = json.loads((runs / "final" / "metrics.json").read_text())
    assert metrics["n"] == 400 and metrics["accuracy"] > 0.8
    assert len(metrics["predictions"]) == 400
    # The shipped model was chosen on validation, and it serves the figures the report shows.
    choice = Choice.read(runs / "final" / "choice.json")
    assert choice is not None and choice.n_validation == 240
    assert "## Shipped model" in report
    marked = [line for line in report.splitlines() if "(shipped) |" in line]
    assert len(marked) == 1, "one row of the score table is the shipped model"
    card = (runs / "final" / "model" / "README.md").read_text()
    assert "## The model chosen on validation" in card
    config = load_config(runs / "config.yaml")
    test = final_splits(config.data).splits["test"]
    served = load_predictor(runs / "final" / "model").predict(list(test["text"]))
    ids = {name: i for i, name in enumerate(test.features["label"].names)}
    shipped = choice.shipped_scores
    assert shipped is not None
    assert [ids[row["label"]] for row in served] == shipped.predictions
    stamp = (runs / "final" / "metrics.json").stat().st_mtime_ns
    saved = yaml.safe_load((runs / "config.yaml").read_text())
    assert saved["model"]["name"] == str(repo / "study_configs/smoke/model")
    assert saved["study"]["storage"] == f"sqlite:///{tmp_path / 'smoke.db'}"

    # Every stage is resumable: a second run redoes nothing and prints the same report path.
    assert main(argv) == 0
    assert (runs / "final" / "metrics.json").stat().st_mtime_ns == stamp

    # Predict with the final model: arguments, files of each format and standard input.
    model_dir = str(runs / "final" / "model")
    capsys.readouterr()
    assert main(["predict", model_dir, "A great and moving film.", "Awful, boring mess."]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["label"] for x in lines] == ["pos", "neg"]
    assert all(0.5 <= x["probability"] <= 1.0 for x in lines)
    reviews = tmp_path / "reviews.txt"
    reviews.write_text("wonderful superb acting\n\nterrible waste of time\n")
    assert main(["predict", model_dir, "--file", str(reviews)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    monkeypatch.setattr("sys.stdin", io.StringIO("loved it, brilliant\n"))
    assert main(["predict", model_dir, "--file", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["label"] == "pos"
    # Empty input is an error.
    assert main(["predict", model_dir]) == 2
    assert "no text given" in capsys.readouterr().err


def test_run_measures_the_reference_by_default(
    make_config, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = make_config({"study": {"n_trials": 1}})  # the base config keeps a reference
    assert main(["run", str(config), "--quiet"]) == 0
    runs = tmp_path / "runs"
    reference = json.loads((runs / "reference" / "metrics.json").read_text())
    assert reference["source"] == "reference setup" and reference["n"] == 200
    report = (runs / "report.md").read_text()
    assert "| reference setup (lr 2e-05" in report
    assert "the tuned model" in report and "the reference setup" in report

    from hpo.cli.parser import build_parser

    parsed = build_parser().parse_args(["run", str(config), "--no-reference"])
    assert parsed.reference is False
    assert build_parser().parse_args(["run", str(config)]).reference is None
