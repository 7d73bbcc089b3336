"""The final stage: tested once, stopped at the peak, never overwriting another plan's results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import hpo.final.retrain
from hpo.api import load_config
from hpo.final.choice import PROBABILITIES, load_probabilities
from hpo.final.metrics import FinalMetrics
from hpo.final.retrain import plan_from_study, train_and_test
from hpo.search.storage import load_existing_study

pytestmark = pytest.mark.slow


def test_retrain_tests_once_and_stops_at_the_peak(
    searched: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_config(searched)
    calls: list[int] = []
    original = hpo.final.retrain.predict_logits

    def counting(trainer, dataset):  # type: ignore[no-untyped-def]
        calls.append(len(dataset))
        return original(trainer, dataset)

    monkeypatch.setattr(hpo.final.retrain, "predict_logits", counting)
    plan = plan_from_study(
        load_existing_study(config.study.name, config.storage_url, config.source),
        config.study.evals_per_epoch,
    )
    out = tmp_path / "final"
    metrics = train_and_test(config, plan, out, seeds=2, quiet=True)
    # The whole test split once per seed; validation once, by the saved model, to choose with.
    assert calls == [200, 120, 200]
    assert metrics.n == 200 and metrics.train_size == 480, "train without validation"
    assert metrics.validation_held == 120
    val, test = load_probabilities(out / PROBABILITIES)
    assert val.shape == (120, 2) and test.argmax(1).tolist() == metrics.predictions
    assert metrics.epochs_trained == pytest.approx(plan.stop_epoch, abs=0.05)
    assert metrics.accuracy > 0.8
    assert metrics.ci95[0] <= metrics.accuracy <= metrics.ci95[1]
    cm = metrics.confusion_matrix["rows_true_cols_pred"]
    assert sum(map(sum, cm)) == 200
    assert len(metrics.runs) == 2 and metrics.test_accuracy_std >= 0
    # The file is the record: read back, it is the same metrics, with the inputs it was made of.
    assert FinalMetrics.read(out / "metrics.json") == metrics
    assert json.loads((out / "metrics.json").read_text())["accuracy"] == metrics.accuracy
    assert metrics.inputs["seeds"] == 2

    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(out / "model")
    assert model.config.id2label == {0: "neg", 1: "pos"}
    tokenizer = AutoTokenizer.from_pretrained(out / "model")
    assert tokenizer.model_max_length == config.data.max_length  # where pipeline() cuts

    # The card beside the weights carries metrics.json's figures.
    from huggingface_hub import ModelCard

    card = ModelCard.load(out / "model" / "README.md")
    (accuracy,) = [r for r in card.data.eval_results if r.metric_type == "accuracy"]
    assert accuracy.metric_value == metrics.accuracy
    assert f"{100 * metrics.accuracy:.2f}%" in card.text

    # transformers.pipeline answers with the class names, and on texts within max_length the
    # same labels as hpo's own predictor.
    from transformers import pipeline

    from hpo.api import load_predictor

    texts = ["a great and moving film", "awful boring mess", "fine", "the plot was dull"]
    classify = pipeline("text-classification", model=str(out / "model"))
    piped = [row["label"] for row in classify(texts, truncation=True)]
    ours = [row["label"] for row in load_predictor(out / "model").predict(texts)]
    assert set(piped) <= {"neg", "pos"}
    assert piped == ours

    # A finished stage is not done again.
    retrained = lambda *a, **k: pytest.fail("retrained")  # noqa: E731
    monkeypatch.setattr(hpo.final.retrain, "build_trainer", retrained)
    assert train_and_test(config, plan, out, seeds=2, quiet=True) == metrics


def test_final_stage_never_overwrites_another_plans_results(searched: Path, tmp_path: Path) -> None:
    from hpo.errors import HpoError
    from hpo.final.retrain import RetrainPlan

    config = load_config(searched)
    plan = plan_from_study(
        load_existing_study(config.study.name, config.storage_url, config.source),
        config.study.evals_per_epoch,
    )
    out = tmp_path / "final"
    train_and_test(config, plan, out, quiet=True)
    before = (out / "metrics.json").read_bytes()
    other = RetrainPlan({**plan.params, "learning_rate": 0.004}, plan.stop_epoch, "another plan")
    with pytest.raises(HpoError, match="holds the results of another plan") as info:
        train_and_test(config, other, out, quiet=True)
    assert str(out) in str(info.value) and "\n" not in str(info.value)
    assert (out / "metrics.json").read_bytes() == before


def test_ship_tuned_trains_on_train_plus_validation(searched: Path, tmp_path: Path) -> None:
    import dataclasses

    config = load_config(searched)
    config = dataclasses.replace(config, study=dataclasses.replace(config.study, ship="tuned"))
    plan = plan_from_study(
        load_existing_study(config.study.name, config.storage_url, config.source),
        config.study.evals_per_epoch,
    )
    out = tmp_path / "final"
    metrics = train_and_test(config, plan, out, quiet=True)
    assert metrics.train_size == 600 and metrics.validation_held == 0
    assert not (out / PROBABILITIES).exists() and "holdout" not in metrics.inputs


def test_keep_best_trains_the_epochs_and_keeps_the_best_point_on_validation(
    make_config, tmp_path: Path
) -> None:
    """No search: the strong default, trained for the epochs given, with validation scored
    twice an epoch; the saved model is the best point's, as its validation figures show."""
    import dataclasses

    import numpy as np

    from hpo.config.reference import FINAL_EVALS_PER_EPOCH, STRONG_DEFAULT
    from hpo.final.retrain import plan_default

    config = load_config(make_config({"study": {"n_trials": 0}}))
    plan = dataclasses.replace(
        plan_default(config.search_space, config.training, epochs=2), keep_best=True
    )
    assert plan.source == "strong default (no search)"
    assert plan.params["learning_rate"] == STRONG_DEFAULT["learning_rate"]
    out = tmp_path / "final"
    metrics = train_and_test(config, plan, out, quiet=True)
    assert metrics.inputs["keep_best"] is True
    assert metrics.epochs_trained == pytest.approx(2.0, abs=0.05)
    curve = metrics.validation_curve
    assert len(curve) == 2 * FINAL_EVALS_PER_EPOCH
    best_epoch, best = max(curve, key=lambda point: point[1])
    assert metrics.best_epoch == best_epoch
    # The saved model's validation accuracy is the best point's, not the last one's.
    val, _ = load_probabilities(out / PROBABILITIES)
    from hpo.data.sources import load_raw
    from hpo.data.splits import stage_splits

    raw, _ = load_raw(config.data)
    labels = np.asarray(stage_splits(raw, config.data, "holdout").splits["validation"]["label"])
    assert float((val.argmax(1) == labels).mean()) == pytest.approx(best, abs=1e-9)


def test_with_a_deadline_its_timed_steps_fit_the_epochs(make_config, tmp_path: Path) -> None:
    """A deadline an hour away and a ceiling of 3 epochs: the steps, once timed, move the
    planned one epoch to the 3 that fit, and training runs them (the schedule ending there)."""
    import dataclasses
    import time

    from hpo.final.retrain import plan_default

    config = load_config(make_config({"study": {"n_trials": 0}}))
    plan = dataclasses.replace(
        plan_default(config.search_space, config.training, epochs=1),
        keep_best=True,
        stop_by=time.time() + 3600,
        most_epochs=3.0,
        eval_seconds=0.1,
    )
    metrics = train_and_test(config, plan, tmp_path / "final", quiet=True)
    assert metrics.fitted_epochs == 3.0
    assert metrics.epochs_trained == pytest.approx(3.0, abs=0.05)
    assert metrics.stop_epoch == 1.0  # the plan's, as its input
    assert len(metrics.validation_curve) == 3 * 2


def test_the_batch_it_trains_at() -> None:
    """Its params' batch, else the training settings', else Trainer's default; an
    out-of-memory retry's divided one."""
    from hpo.final.retrain import RetrainPlan

    assert RetrainPlan({"per_device_train_batch_size": 32}, 1.0, "x").train_batch({}) == 32
    assert RetrainPlan({}, 1.0, "x").train_batch({"per_device_train_batch_size": 12}) == 12
    assert RetrainPlan({}, 1.0, "x").train_batch({}) == 8  # TrainingArguments' default
    retry = RetrainPlan({"per_device_train_batch_size": 32}, 1.0, "x", batch_divisor=4)
    assert retry.train_batch({}) == 8


def test_with_no_search_the_strong_default_leaves_your_fixed_keys_yours() -> None:
    from hpo.config.space import ParamSpec
    from hpo.final.retrain import plan_default

    space = {"learning_rate": ParamSpec("float", 1e-5, 1e-4)}
    # The batch is fixed in training (it fits your memory) and not searched: it stays yours.
    mine = plan_default(space, {"per_device_train_batch_size": 8}, epochs=2.0)
    assert "per_device_train_batch_size" not in mine.params
    assert mine.train_batch({"per_device_train_batch_size": 8}) == 8
    assert mine.params["learning_rate"] == 5e-5 and mine.params["weight_decay"] == 0.01
    # Left to the default, the strong default's batch.
    assert plan_default(space, {}, epochs=2.0).train_batch({}) == 32
