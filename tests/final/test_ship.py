"""Handing over the model chosen on validation: the test split cannot change the choice, and
the model folder serves what was chosen."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from datasets import ClassLabel, Dataset, Features, Value

from hpo.api import load_config
from hpo.config.schema import HpoConfig
from hpo.errors import HpoError
from hpo.final.choice import PROBABILITIES, Choice, save_probabilities
from hpo.final.classical import fit
from hpo.final.record import CLASSICAL_DIR, ModelRecord
from hpo.final.ship import CHOICE_FILE, ship_best
from hpo.runs import RunLayout, model_dir


def _ship(config: HpoConfig) -> Choice | None:
    return ship_best(
        config.study, config.data, model_name=config.model.name, output_dir=config.output_dir
    )


def _labelled(config) -> tuple[np.ndarray, np.ndarray]:
    from hpo.data.sources import load_raw
    from hpo.data.splits import stage_splits

    raw, _ = load_raw(config.data)
    splits = stage_splits(raw, config.data, "holdout").splits
    return np.asarray(splits["validation"]["label"]), np.asarray(splits["test"]["label"])


def _onehot(labels: np.ndarray, right: np.ndarray) -> np.ndarray:
    predicted = np.where(right, labels, 1 - labels)
    out = np.full((len(labels), 2), 0.2)
    out[np.arange(len(labels)), predicted] = 0.8
    return out


@pytest.fixture
def run(make_config, tiny_models, tmp_path: Path):
    """A run folder after the final stage and the baselines: the transformer right on 60% of
    validation, TF-IDF on 90%."""
    config = load_config(make_config())
    layout = RunLayout(config.output_dir)
    shutil.copytree(tiny_models["bert"], model_dir(layout.final))
    ModelRecord(max_length=48, labels=("neg", "pos")).write(model_dir(layout.final))
    texts = ["great film", "awful mess"] * 4
    train = Dataset.from_dict(
        {"text": texts, "label": [1, 0] * 4},
        features=Features({"text": Value("string"), "label": ClassLabel(names=["neg", "pos"])}),
    )
    fit(train, ["neg", "pos"], ngram_range=(1, 1), c=1.0).save(layout.classical / "model")
    val, test = _labelled(config)
    rng = np.random.default_rng(0)
    save_probabilities(
        layout.final / PROBABILITIES,
        validation=_onehot(val, rng.random(len(val)) < 0.6),
        test=_onehot(test, rng.random(len(test)) < 0.9),
    )
    save_probabilities(
        layout.classical / PROBABILITIES,
        validation=_onehot(val, rng.random(len(val)) < 0.9),
        test=_onehot(test, rng.random(len(test)) < 0.5),
    )
    return config, layout


def test_the_choice_is_made_on_validation_and_served(run) -> None:
    config, layout = run
    (layout.final / "metrics.json").write_text(
        json.dumps({"accuracy": 0.9, "n": 200, "ci95": [0.85, 0.94]})
    )
    choice = _ship(config)
    assert choice is not None and choice.shipped == "classical"
    assert Choice.read(layout.final / CHOICE_FILE) == choice
    folder = model_dir(layout.final)
    assert ModelRecord.read(folder).shipped == "classical" and (folder / CLASSICAL_DIR).is_dir()
    # On test the transformer is far better here; the choice still stands, and says so.
    assert choice.test["tuned"].accuracy > choice.test["classical"].accuracy
    # The card says what hpo predict serves and what the pipeline gives, with both figures.
    card = (folder / "README.md").read_text()
    shipped = choice.test["classical"].accuracy
    assert "serve the TF-IDF + logistic regression model" in card
    assert f"test accuracy **{100 * shipped:.2f}%**" in card
    assert "`transformers.pipeline` loads the fine-tuned transformer alone" in card


def test_test_probabilities_cannot_change_the_choice(run) -> None:
    config, layout = run
    first = _ship(config)
    for name in (layout.final / PROBABILITIES, layout.classical / PROBABILITIES):
        with np.load(name) as arrays:
            val = arrays["validation"]
            test = np.random.default_rng(1).dirichlet([1, 1], len(arrays["test"]))
        save_probabilities(name, validation=val, test=test)
    again = _ship(config)
    assert first is not None and again is not None
    assert (again.shipped, again.weight, again.validation) == (
        first.shipped,
        first.weight,
        first.validation,
    )
    assert again.test != first.test


def test_a_transformer_choice_leaves_no_classical_files(run) -> None:
    config, layout = run
    _ship(config)
    val, test = _labelled(config)
    save_probabilities(
        layout.final / PROBABILITIES,
        validation=_onehot(val, np.ones(len(val), bool)),
        test=_onehot(test, np.ones(len(test), bool)),
    )
    assert _ship(config).shipped == "tuned"
    folder = model_dir(layout.final)
    assert ModelRecord.read(folder).weight == 1.0 and not (folder / CLASSICAL_DIR).exists()


def test_missing_probabilities_name_the_stage(run) -> None:
    config, layout = run
    (layout.classical / PROBABILITIES).unlink()
    with pytest.raises(HpoError, match=r"probabilities.npz: missing.*Run the baselines stage"):
        _ship(config)


def test_ship_tuned_chooses_nothing(make_config) -> None:
    config = load_config(make_config({"study": {"ship": "tuned"}}))
    assert _ship(config) is None
