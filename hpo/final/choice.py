"""Which model to hand over, decided on validation: the tuned transformer, the TF-IDF model or
a blend of their class probabilities.

:func:`choose` sees validation probabilities and labels only: the test split cannot reach the
decision. Its record, :class:`Choice`, is written once by the final stage
(:mod:`hpo.final.ship`) into ``final/choice.json`` and read by the report and the model card.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hpo.final.metrics import Scores
from hpo.final.scoring import metric_of

if TYPE_CHECKING:
    from hpo.train.objective import Objective

#: The candidates, in the order ties go: the simpler model first.
CANDIDATES = ("tuned", "classical", "blend")
#: What each candidate is called in the report and the card.
TITLES = {
    "tuned": "tuned transformer",
    "classical": "TF-IDF + logistic regression model",
    "blend": "blend of the two",
}
#: The transformer's weights in the blend tried on validation (the rest is TF-IDF's): a grid of
#: twentieths, the ends excluded (they are the two models alone).
BLEND_WEIGHTS = tuple(round(i / 20, 2) for i in range(1, 20))


#: A model's class probabilities on validation and test (``validation``, ``test`` arrays), in
#: its stage's folder.
PROBABILITIES = "probabilities.npz"


def softmax(logits: np.ndarray) -> np.ndarray:
    """Class probabilities of logits (examples x classes)."""
    shifted = np.asarray(logits, dtype=np.float64)
    shifted = shifted - shifted.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def save_probabilities(path: Path, *, validation: np.ndarray, test: np.ndarray) -> None:
    """Both splits' probabilities to ``path`` (whole or not at all)."""
    part = path.with_name(path.name + ".part")
    path.parent.mkdir(parents=True, exist_ok=True)
    with part.open("wb") as fh:
        np.savez(fh, validation=validation.astype(np.float32), test=test.astype(np.float32))
    part.replace(path)


def load_probabilities(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(validation, test) probabilities saved by :func:`save_probabilities`."""
    with np.load(path, allow_pickle=False) as arrays:
        return arrays["validation"].astype(np.float64), arrays["test"].astype(np.float64)


def mix(tuned: np.ndarray, classical: np.ndarray, weight: float) -> np.ndarray:
    """``weight`` of the transformer's probabilities plus the rest of TF-IDF's."""
    return weight * tuned + (1.0 - weight) * classical


@dataclass(frozen=True)
class Choice:
    """The model handed over, why (each candidate's validation figure), and each candidate's
    test figures, scored after the choice was made."""

    #: ``tuned``, ``classical`` or ``blend``.
    shipped: str
    #: The transformer's share of the shipped model's probabilities (1 tuned, 0 classical).
    weight: float
    #: The blend's best weight on validation (whether or not it was shipped).
    blend_weight: float
    #: ``study.metric``, and each candidate's validation value of it.
    metric: str
    validation: dict[str, float]
    #: Validation examples the choice was made on.
    n_validation: int
    #: Each candidate's test figures (with per-example predictions), in :data:`CANDIDATES`
    #: order; filled by the final stage after the choice.
    test: dict[str, Scores] = field(default_factory=dict)

    @property
    def shipped_scores(self) -> Scores | None:
        """The shipped model's test figures."""
        return self.test.get(self.shipped)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of ``choice.json``."""
        data = dataclasses.asdict(self)
        data["test"] = {
            name: {**dataclasses.asdict(s), "ci95": list(s.ci95)} for name, s in self.test.items()
        }
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Choice:
        """The record from its JSON form."""
        names = {f.name for f in dataclasses.fields(cls)}
        known = {k: v for k, v in data.items() if k in names}
        known["test"] = {k: Scores.from_dict(v) for k, v in (known.get("test") or {}).items()}
        return cls(**known)

    @classmethod
    def read(cls, path: Path) -> Choice | None:
        """``choice.json`` at ``path``; None where the run made no choice."""
        if not path.is_file():
            return None
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))


def choose(
    tuned: np.ndarray, classical: np.ndarray, labels: np.ndarray, objective: Objective
) -> Choice:
    """The candidate with the highest validation ``objective`` (ties to the simpler model),
    from each model's class probabilities on the same validation examples."""
    labels = np.asarray(labels)

    def value(probs: np.ndarray) -> float:
        return metric_of(probs.argmax(1), labels, objective)

    blends = [(value(mix(tuned, classical, w)), w) for w in BLEND_WEIGHTS]
    # The best weight; among equals the one nearest an even mix (least fitted to noise).
    blend_value, blend_weight = max(blends, key=lambda vw: (vw[0], -abs(vw[1] - 0.5)))
    validation = {"tuned": value(tuned), "classical": value(classical), "blend": blend_value}
    shipped = max(CANDIDATES, key=lambda name: (validation[name], -CANDIDATES.index(name)))
    weight = {"tuned": 1.0, "classical": 0.0, "blend": blend_weight}[shipped]
    return Choice(
        shipped=shipped,
        weight=weight,
        blend_weight=blend_weight,
        metric=objective.metric,
        validation=validation,
        n_validation=len(labels),
    )
