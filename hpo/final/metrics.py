"""What a model scored on the test split, typed: :class:`Scores` for every model the report
compares (the final stage's, the reference setup's, the baselines'), and :class:`FinalMetrics`,
the final stage's ``metrics.json``.

One writer each (:func:`hpo.final.retrain.train_and_test` for ``metrics.json``,
:mod:`hpo.final.baselines` for ``baselines.json``) and one way to read them,
:meth:`Scores.from_dict` / :meth:`FinalMetrics.read`, for the model card, the report, its
findings and the command line. A file written before a key existed reads as its default, a key
a newer hpo wrote and this one does not know is ignored.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hpo.config.reference import DEFAULT_KEPT


def _known(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


@dataclass(frozen=True)
class Scores:
    """A model's figures on the test split."""

    #: Test accuracy, its examples and its 95% bootstrap interval.
    accuracy: float
    n: int
    ci95: tuple[float, float]
    #: ``study.metric`` and its value and interval (accuracy's own for ``accuracy``).
    metric: str = "accuracy"
    metric_value: float | None = None
    metric_ci95: tuple[float, float] | None = None
    #: The predicted class id of every test example, in test order (the paired test's input).
    predictions: list[int] | None = None
    #: ``{"labels": [...], "rows_true_cols_pred": [[...]]}``.
    confusion_matrix: dict[str, Any] | None = None
    #: Class name -> precision, recall, f1, support.
    per_class: dict[str, Any] | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scores:
        """The figures from their JSON form (older files: missing keys take their defaults)."""
        known = _known(cls, data)
        known["ci95"] = tuple(known["ci95"])
        if known.get("metric_ci95") is not None:
            known["metric_ci95"] = tuple(known["metric_ci95"])
        known.setdefault("metric_value", known["accuracy"])
        known.setdefault("metric_ci95", known["ci95"])
        return cls(**known)

    def figure(self, key: str) -> tuple[float, tuple[float, float]] | None:
        """(value, interval) of ``accuracy`` or ``metric_value``; None where not recorded."""
        if key == "accuracy":
            return self.accuracy, self.ci95
        if self.metric_value is None or self.metric_ci95 is None:
            return None
        return self.metric_value, self.metric_ci95


@dataclass(frozen=True)
class FinalMetrics(Scores):
    """The final stage's ``metrics.json``: the first seed's model's test figures, the spread
    over seeds, what was trained and on what."""

    epochs_trained: float = 0.0
    #: With the best epoch kept on validation: the point kept, and (epoch, value) at each.
    best_epoch: float | None = None
    validation_curve: list[tuple[float, float]] = field(default_factory=list)
    #: Where its timed steps fitted the stop to the deadline (:mod:`hpo.train.refit`), the
    #: epochs they fitted; None where the plan's stood.
    fitted_epochs: float | None = None
    train_seconds: float = 0.0
    train_samples_per_second: float = 0.0
    test_seconds: float = 0.0
    test_samples_per_second: float = 0.0
    #: Over ``seeds`` trainings (std 0 for one).
    test_accuracy_mean: float = 0.0
    test_accuracy_std: float = 0.0
    test_metric_mean: float = 0.0
    test_metric_std: float = 0.0
    seeds: int = 1
    #: Each seed's figures.
    runs: list[dict[str, Any]] = field(default_factory=list)
    #: The params as chosen, and as trained (``warmup_steps: auto`` resolved).
    params: dict[str, Any] = field(default_factory=dict)
    trained_params: dict[str, Any] | None = None
    stop_epoch: float = 0.0
    #: Where the params came from ("study 'imdb' trial 4", "reference setup").
    source: str = ""
    #: Why the strong default was trained in place of the search's best (within noise of it);
    #: empty where it was not. Older files say so only in ``source`` (:meth:`kept_default`).
    default_kept: str = ""
    train_size: int = 0
    #: Validation examples left out of training, to choose the shipped model (0: none).
    validation_held: int = 0
    validation_seconds: float = 0.0
    test_carved: bool = False
    test_fraction: float | None = None
    data_fingerprint: str | None = None
    max_length: int | None = None
    #: What the result was made from (:func:`hpo.runs.reuse_result`).
    inputs: dict[str, Any] = field(default_factory=dict)

    def kept_default(self) -> bool:
        """Whether the strong default was trained because the search's best led it by no more
        than noise (in files written before :attr:`default_kept`, by its ``source``)."""
        return bool(self.default_kept) or (self.source or "").startswith(DEFAULT_KEPT)

    @classmethod
    def read(cls, path: Path) -> FinalMetrics:
        """``metrics.json`` at ``path``."""
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FinalMetrics:
        """The metrics from their JSON form (older files: missing keys take their defaults)."""
        scores = Scores.from_dict(data)
        rest = {k: v for k, v in _known(cls, data).items() if k not in _SCORE_FIELDS}
        rest.setdefault("test_accuracy_mean", scores.accuracy)
        return cls(**dataclasses.asdict(scores), **rest)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, as ``metrics.json`` holds it."""
        data = dataclasses.asdict(self)
        data["ci95"] = list(self.ci95)
        data["metric_ci95"] = list(self.metric_ci95) if self.metric_ci95 is not None else None
        return data


_SCORE_FIELDS = frozenset(f.name for f in dataclasses.fields(Scores))


@dataclass(frozen=True)
class ZeroShot:
    """The pretrained model scored without fine-tuning, where its own labels map to the data's."""

    #: Its figures; None when it does not apply.
    scores: Scores | None
    #: How its labels were mapped, or why it does not apply.
    note: str


@dataclass(frozen=True)
class Results:
    """Every model the report compares on the same test split, as far as each exists."""

    tuned: FinalMetrics | None = None
    reference: FinalMetrics | None = None
    classical: Scores | None = None
    zero_shot: ZeroShot | None = None

    @classmethod
    def read(cls, final: Path, reference: Path, baselines: Path) -> Results:
        """The results files that exist: the final stage's and the reference's
        ``metrics.json``, ``baselines.json``."""
        base = json.loads(baselines.read_text(encoding="utf-8")) if baselines.exists() else {}
        return cls.from_dicts(
            tuned=json.loads(final.read_text(encoding="utf-8")) if final.exists() else None,
            reference=(
                json.loads(reference.read_text(encoding="utf-8")) if reference.exists() else None
            ),
            baselines=base,
        )

    @classmethod
    def from_dicts(
        cls,
        *,
        tuned: Mapping[str, Any] | None = None,
        reference: Mapping[str, Any] | None = None,
        baselines: Mapping[str, Any] | None = None,
    ) -> Results:
        """The results from their JSON forms (``baselines``: ``classical``, ``zero_shot``)."""
        base = baselines or {}
        classical = base.get("classical")
        zero = base.get("zero_shot")
        zero_shot = None
        if zero:
            applicable = bool(zero.get("applicable"))
            zero_shot = ZeroShot(
                Scores.from_dict(zero) if applicable else None,
                f"labels mapped by name: {zero.get('label_map')}"
                if applicable
                else f"not applicable: {zero.get('reason')}",
            )
        return cls(
            tuned=FinalMetrics.from_dict(tuned) if tuned else None,
            reference=FinalMetrics.from_dict(reference) if reference else None,
            classical=Scores.from_dict(classical) if classical else None,
            zero_shot=zero_shot,
        )

    def test_size(self) -> int | None:
        """Test examples, from whichever model was scored."""
        scored = [self.tuned, self.reference, self.classical]
        scored.append(self.zero_shot.scores if self.zero_shot else None)
        return next((s.n for s in scored if s is not None), None)
