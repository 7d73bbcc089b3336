"""Final stage: export, retrain, baselines, report, predict, and `hpo run` end to end."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from tiny import build_model

import hpo.retrain
from hpo.baselines import classical, head_mapping, zero_shot
from hpo.cli import main
from hpo.config import DataSection
from hpo.errors import ConfigError
from hpo.export import load_params
from hpo.load import load_config
from hpo.metrics import Objective, bootstrap_intervals
from hpo.retrain import plan_from_study, train_and_test
from hpo.search import run_search
from hpo.splits import final_splits
from hpo.storage import load_existing_study

pytestmark = pytest.mark.slow

LEARNS = {"study": {"n_trials": 2}, "search_space": {"num_train_epochs": {"low": 3, "high": 4}}}


@pytest.fixture
def searched(make_config) -> Path:
    """A config whose study has 2 finished trials."""
    path = make_config(LEARNS)
    run_search(load_config(path), quiet=True)
    return path


def test_export_round_trip(searched: Path, tmp_path: Path) -> None:
    config = load_config(searched)
    out = tmp_path / "best.yaml"
    assert main(["export", str(searched), "-o", str(out)]) == 0
    doc = yaml.safe_load(out.read_text())
    study = load_existing_study(config)
    assert doc["params"] == study.best_trial.params
    prov = doc["provenance"]
    assert prov["trial_number"] == study.best_trial.number
    assert prov["validation_value"] == study.best_trial.value and prov["metric"] == "accuracy"
    assert prov["labels"] == ["neg", "pos"]
    assert prov["data_fingerprint"] == study.user_attrs["data_fingerprint"]
    assert prov["split_seed"] == config.data.split_seed
    assert {"torch", "transformers", "optuna"} <= set(prov["packages"])
    assert prov["hardware"]["cpu_count"] >= 1 and prov["exported_at"]
    evals = study.best_trial.user_attrs["evals"]
    assert prov["peak_epoch"] == max(evals, key=lambda e: e["accuracy"])["epoch"]
    params, peak = load_params(out, config)
    assert params == study.best_trial.params and peak == prov["peak_epoch"]


def test_load_params_rejects_foreign_files(searched: Path, tmp_path: Path) -> None:
    config = load_config(searched)
    bad = tmp_path / "bad.yaml"
    bad.write_text("params: {learning_rate: 0.001}\n")
    with pytest.raises(ConfigError, match="missing: num_train_epochs, per_device_train_batch"):
        load_params(bad, config)
    bad.write_text(
        "params: {learning_rate: 9.0, num_train_epochs: 1, per_device_train_batch_size: 16}\n"
    )
    with pytest.raises(ConfigError, match=r"params\.learning_rate: the value 9\.0 is outside"):
        load_params(bad, config)


def test_retrain_tests_once_and_stops_at_the_peak(
    searched: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_config(searched)
    calls: list[int] = []
    original = hpo.retrain.predict_logits

    def counting(trainer, dataset):  # type: ignore[no-untyped-def]
        calls.append(len(dataset))
        return original(trainer, dataset)

    monkeypatch.setattr(hpo.retrain, "predict_logits", counting)
    plan = plan_from_study(config)
    out = tmp_path / "final"
    metrics = train_and_test(config, plan, out, seeds=2, quiet=True)
    assert calls == [200, 200], "the whole test split, once per seed"
    assert metrics["n"] == 200 and metrics["train_size"] == 600, "train + validation"
    assert metrics["epochs_trained"] == pytest.approx(plan.stop_epoch, abs=0.05)
    assert metrics["accuracy"] > 0.8
    assert metrics["ci95"][0] <= metrics["accuracy"] <= metrics["ci95"][1]
    cm = metrics["confusion_matrix"]["rows_true_cols_pred"]
    assert sum(map(sum, cm)) == 200
    assert len(metrics["runs"]) == 2 and metrics["test_accuracy_std"] >= 0
    assert json.loads((out / "metrics.json").read_text())["accuracy"] == metrics["accuracy"]

    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(out / "model")
    assert model.config.id2label == {0: "neg", 1: "pos"}
    AutoTokenizer.from_pretrained(out / "model")

    # A finished stage is not done again.
    monkeypatch.setattr(hpo.retrain, "build_trainer", lambda *a, **k: pytest.fail("retrained"))
    assert train_and_test(config, plan, out, seeds=2, quiet=True) == metrics


def bootstrap_ci(correct: np.ndarray) -> tuple[float, float]:
    """The accuracy interval of a model that got exactly ``correct`` right."""
    predictions = np.asarray(correct, dtype=int)
    accuracy = Objective("accuracy", 2)
    return bootstrap_intervals(predictions, np.ones_like(predictions), [accuracy])[0]


def test_bootstrap_interval() -> None:
    correct = np.array([1.0] * 90 + [0.0] * 10)
    low, high = bootstrap_ci(correct)
    assert low < 0.9 < high and low > 0.8 and high < 0.97
    assert bootstrap_ci(np.ones(50)) == (1.0, 1.0)


def test_baselines(make_config, tmp_path: Path) -> None:
    config = load_config(make_config())
    result = classical(config)
    assert result["accuracy"] > 0.8 and result["n"] == 200
    assert zero_shot(config)["applicable"] is False  # a random head named LABEL_0/LABEL_1

    # A sentiment head is used zero-shot, its labels mapped by name, not by id.
    folder = build_model(tmp_path / "sst", "bert")
    cfg = json.loads((folder / "config.json").read_text())
    cfg["id2label"] = {"0": "POSITIVE", "1": "NEGATIVE"}
    cfg["label2id"] = {"POSITIVE": 0, "NEGATIVE": 1}
    (folder / "config.json").write_text(json.dumps(cfg))
    headed = load_config(make_config({"model": {"name": str(folder)}}, name="sst.yaml"))
    result = zero_shot(headed)
    assert result["applicable"] is True
    assert result["label_map"] == {"POSITIVE": 1, "NEGATIVE": 0}
    assert result["n"] == 200


@pytest.mark.parametrize(
    ("id2label", "expected"),
    [
        ({0: "NEGATIVE", 1: "POSITIVE"}, {0: 0, 1: 1}),
        ({0: "positive", 1: "negative"}, {0: 1, 1: 0}),
        ({0: "LABEL_0", 1: "LABEL_1"}, None),
        ({0: "neg", 1: "neutral", 2: "pos"}, None),
    ],
)
def test_head_mapping_by_names(id2label: dict[int, str], expected: dict[int, int] | None) -> None:
    assert head_mapping(id2label, ["neg", "pos"]) == expected


def test_head_mapping_for_many_classes() -> None:
    topics = ["Business", "Sci/Tech", "Sports", "World"]
    head = {0: "World", 1: "Sports", 2: "Business", 3: "Sci/Tech"}
    assert head_mapping(head, topics) == {0: 3, 1: 2, 2: 0, 3: 1}
    assert head_mapping({0: "LABEL_0", 1: "LABEL_1"}, ["0", "1"]) is None
    assert head_mapping(dict(enumerate(topics[:3])), topics) is None


def test_drop_test_overlap(tmp_path: Path) -> None:
    rows = [{"text": f"review {i}", "label": i % 2} for i in range(20)]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    test = [*rows[:3], rows[0], {"text": "only in test", "label": 1}]
    (tmp_path / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in test))
    kept = final_splits(DataSection(path=str(tmp_path))).splits
    assert len(kept["train"]) == 20
    dropped = final_splits(DataSection(path=str(tmp_path), drop_test_overlap=True)).splits
    assert len(dropped["train"]) == 17
    assert not {"review 0", "review 1", "review 2"} & set(dropped["train"]["text"])


@pytest.mark.parametrize("where", ["repository root", "another folder"])
def test_hpo_run_smoke_end_to_end(
    where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = Path(__file__).resolve().parent.parent
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


def test_final_stage_never_overwrites_another_plans_results(searched: Path, tmp_path: Path) -> None:
    from hpo.errors import HpoError
    from hpo.retrain import Plan

    config = load_config(searched)
    plan = plan_from_study(config)
    out = tmp_path / "final"
    train_and_test(config, plan, out, quiet=True)
    before = (out / "metrics.json").read_bytes()
    other = Plan({**plan.params, "learning_rate": 0.004}, plan.stop_epoch, "another plan")
    with pytest.raises(HpoError, match="holds the results of another plan") as info:
        train_and_test(config, other, out, quiet=True)
    assert str(out) in str(info.value) and "\n" not in str(info.value)
    assert (out / "metrics.json").read_bytes() == before


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

    from hpo.cli import build_parser

    parsed = build_parser().parse_args(["run", str(config), "--no-reference"])
    assert parsed.reference is False
    assert build_parser().parse_args(["run", str(config)]).reference is None
