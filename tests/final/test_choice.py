"""The choice of the shipped model, on validation only: the better model alone, or a blend when
the two are right on different examples."""

from __future__ import annotations

import numpy as np

from hpo.final.choice import BLEND_WEIGHTS, Choice, choose, mix
from hpo.final.metrics import Scores
from hpo.train.objective import Objective

ACCURACY = Objective("accuracy", 2)


def _probs(right: np.ndarray, labels: np.ndarray, confidence: float) -> np.ndarray:
    """Two-class probabilities that are right where ``right`` is, with ``confidence``."""
    predicted = np.where(right, labels, 1 - labels)
    out = np.full((len(labels), 2), 1 - confidence)
    out[np.arange(len(labels)), predicted] = confidence
    return out


def test_the_better_model_alone_is_shipped() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    good = _probs(rng.random(400) < 0.9, labels, 0.9)
    poor = _probs(rng.random(400) < 0.6, labels, 0.9)
    assert choose(good, poor, labels, ACCURACY).shipped == "tuned"
    choice = choose(poor, good, labels, ACCURACY)
    assert (choice.shipped, choice.weight) == ("classical", 0.0)
    assert choice.validation["classical"] > choice.validation["tuned"]


def test_a_blend_is_shipped_where_the_two_differ() -> None:
    # Each model is right on 3 of 4 examples, sure where it is right and unsure where wrong:
    # the mix is right everywhere.
    labels = np.tile([0, 1], 200)
    first = np.arange(400) % 4 != 0
    second = np.arange(400) % 4 != 1
    tuned = np.where(first[:, None], _probs(first, labels, 0.95), _probs(first, labels, 0.55))
    classical = np.where(
        second[:, None], _probs(second, labels, 0.95), _probs(second, labels, 0.55)
    )
    choice = choose(tuned, classical, labels, ACCURACY)
    assert choice.shipped == "blend" and choice.validation["blend"] == 1.0
    assert choice.weight == choice.blend_weight and choice.blend_weight in BLEND_WEIGHTS
    assert (mix(tuned, classical, choice.weight).argmax(1) == labels).all()


def test_ties_go_to_the_simpler_model() -> None:
    labels = np.tile([0, 1], 50)
    same = _probs(np.ones(100, bool), labels, 0.8)
    assert choose(same, same, labels, ACCURACY).shipped == "tuned"


def test_record_round_trips() -> None:
    labels = np.tile([0, 1], 50)
    choice = choose(
        _probs(np.ones(100, bool), labels, 0.8), np.full((100, 2), 0.5), labels, ACCURACY
    )
    scores = Scores(accuracy=0.9, n=10, ci95=(0.8, 0.95), predictions=[0, 1])
    full = Choice(**{**choice.__dict__, "test": {"tuned": scores}})
    again = Choice.from_dict(full.to_dict())
    assert again == full and again.shipped_scores == scores
