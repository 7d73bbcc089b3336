"""The model card: a Hugging Face card whose header figures are the results files' own."""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import ModelCard

from hpo.api import load_config
from hpo.final.card import CARD_FILE, base_model, write_card
from hpo.final.metrics import FinalMetrics, Scores


def _metrics(predictions: list[int]) -> FinalMetrics:
    return FinalMetrics.from_dict(
        {
            "accuracy": 0.75,
            "ci95": [0.5, 0.9],
            "n": 4,
            "metric": "f1",
            "metric_value": 0.7,
            "metric_ci95": [0.4, 0.9],
            "train_size": 600,
            "source": "study 't' trial 1",
            "stop_epoch": 2.0,
            "trained_params": {"learning_rate": 3e-05, "per_device_train_batch_size": 16},
            "predictions": predictions,
        }
    )


def test_header_holds_the_figures_and_the_body_the_comparison(folder, make_config) -> None:
    config = load_config(make_config({"study": {"metric": "f1"}}))
    labels = [0, 1, 1, 0]
    metrics = _metrics([0, 1, 1, 1])  # 3 of 4 right
    classical = Scores.from_dict(
        {"accuracy": 0.5, "n": 4, "ci95": [0.1, 0.9], "predictions": [1, 0, 1, 0]}
    )
    path = write_card(
        folder,
        metrics,
        data=config.data,
        study=config.study,
        model_name=config.model.name,
        baselines={"classical": classical},
        test_labels=labels,
        finished_trials=2,
    )
    assert path == folder / CARD_FILE
    card = ModelCard.load(path)
    data = card.data
    assert data.library_name == "transformers" and data.pipeline_tag == "text-classification"
    assert data.base_model is None  # a local folder is no hub id
    by_metric = {r.metric_type: r for r in data.eval_results}
    assert by_metric["accuracy"].metric_value == metrics.accuracy
    assert by_metric["f1"].metric_value == metrics.metric_value
    assert by_metric["accuracy"].dataset_split == "test"
    text = card.text
    assert "75.00%" in text and "50.00% - 90.00%" in text
    assert "| TF-IDF + logistic regression | 50.00% |" in text
    assert "2 right only by this model, 1 only by TF-IDF" in text
    assert "not significantly different" in text
    assert "2 finished trials" in text
    assert "| `learning_rate` | 3e-05 |" in text
    # head+tail: the card says what the pipeline does differently.
    assert "keeps the first 48 tokens" in text


def test_without_baselines_the_card_has_the_models_figures_only(folder, make_config) -> None:
    config = load_config(make_config())
    write_card(
        folder,
        _metrics([0, 1, 1, 1]),
        data=config.data,
        study=config.study,
        model_name=config.model.name,
    )
    text = (folder / CARD_FILE).read_text()
    assert "TF-IDF" not in text and "McNemar" not in text
    assert "up to" in text  # the study's planned trials, not a count it cannot know


def test_base_model_is_the_hub_id_where_there_is_one(tmp_path: Path) -> None:
    assert base_model("packaged:all-MiniLM-L6-v2") == "sentence-transformers/all-MiniLM-L6-v2"
    assert base_model("bert-base-uncased") == "bert-base-uncased"
    assert base_model(str(tmp_path)) is None
    assert base_model("./models/mine") is None
