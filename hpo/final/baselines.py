"""Baselines on the same test split: TF-IDF + logistic regression, and the pretrained model as
it is (zero-shot) when its head already predicts the data's classes; :func:`run_baselines` is
the stage, reused while its inputs are unchanged."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hpo.config.reference import tfidf_grid
from hpo.data.labels import class_summary, names_of
from hpo.data.sources import load_raw, locate
from hpo.data.splits import stage_splits
from hpo.data.tokenized import prepare
from hpo.final.choice import PROBABILITIES, save_probabilities
from hpo.final.classical import RECORD as CLASSICAL_RECORD
from hpo.final.classical import columns_of, fit, tune
from hpo.final.scoring import score
from hpo.runs import RunLayout, reuse_result, save_result
from hpo.train.arguments import training_arguments
from hpo.train.inference import predict_logits
from hpo.train.model import load_model, load_model_config, load_tokenizer
from hpo.train.objective import objective_for

if TYPE_CHECKING:
    from pathlib import Path

    from hpo.config.schema import DataSection, TrainerSetup

logger = logging.getLogger(__name__)

#: Spellings of one class that checkpoints and data sets use (SST-2's NEGATIVE, IMDb's neg).
#: A checkpoint's default names (LABEL_0, ...) name no class, so they never match.
_SYNONYMS = {"negative": "neg", "positive": "pos"}


def classical(
    data: DataSection, metric: str, folder: Path, *, settings: int | None = None
) -> dict[str, Any]:
    """TF-IDF + logistic regression (:mod:`hpo.final.classical`): its n-gram range and C
    chosen on validation by a fit on train without validation (of the whole grid, or of the
    ``settings`` a budget holds), then fitted again with them on the whole training split and
    scored on test.

    Saves the refitted model as plain data in ``folder/model`` and, for the choice of the
    shipped model, the train-only fit's validation probabilities and the refit's test ones in
    ``folder/probabilities.npz``.
    """
    raw, _ = load_raw(data)
    held = stage_splits(raw, data, "holdout").splits
    made = stage_splits(raw, data, "final")
    train, test = made.splits["train"], made.splits["test"]
    labels = names_of(train)
    objective = objective_for(metric, labels, positive_label=data.positive_label)
    start = time.perf_counter()
    tuned = tune(held["train"], held["validation"], labels, objective, settings=settings)
    model = fit(train, labels, ngram_range=tuned.model.ngram_range, c=tuned.model.c)
    fit_seconds = time.perf_counter() - start
    _, test_columns = columns_of(test)
    probabilities = model.probabilities(test_columns)
    model.save(folder / "model")
    save_probabilities(
        folder / PROBABILITIES, validation=tuned.validation_probabilities, test=probabilities
    )
    predictions = probabilities.argmax(1)
    result = score(predictions, np.asarray(test["label"]), labels, objective)
    result |= {
        "name": "TF-IDF + logistic regression",
        "ngram_range": list(model.ngram_range),
        "C": model.c,
        "validation": tuned.validation,
        "n_validation": len(held["validation"]),
        "grid": tuned.grid,
        "train_seconds": round(fit_seconds, 1),
        "predictions": predictions.tolist(),
    }
    logger.info(
        "Classical baseline (%s-grams, C %g, chosen on validation): test accuracy %.4f",
        model.ngram_range,
        model.c,
        result["accuracy"],
    )
    return result


def head_mapping(id2label: dict[int, str], labels: Sequence[str]) -> dict[int, int] | None:
    """Map a model's own label ids to the data's class ids by their names (POSITIVE -> pos),
    or None when the two sets of names differ."""

    def key(name: Any) -> str:
        low = str(name).strip().lower()
        return _SYNONYMS.get(low, low)

    ours = {key(name): i for i, name in enumerate(labels)}
    mapping = {int(i): ours.get(key(name)) for i, name in id2label.items()}
    if (
        len(mapping) != len(ours)
        or None in mapping.values()
        or len(set(mapping.values())) != len(ours)
    ):
        return None
    return mapping  # type: ignore[return-value]


def zero_shot(setup: TrainerSetup, data: DataSection) -> dict[str, Any]:
    """The pretrained model without fine-tuning, if its head's label names are the data's
    (scored on ``data``'s test split as :attr:`HpoConfig.trainer_setup` says)."""
    from transformers import Trainer

    tokenizer = load_tokenizer(setup.model)
    prepared = prepare(data, tokenizer, stage="final")
    labels = prepared.labels
    model_config = load_model_config(setup.model)
    mapping = head_mapping(getattr(model_config, "id2label", None) or {}, labels)
    if mapping is None:
        names = list((getattr(model_config, "id2label", None) or {}).values())
        return {
            "name": "pretrained, no fine-tuning",
            "applicable": False,
            "reason": f"the model's head predicts {class_summary(names)}, not the data's "
            f"{class_summary(labels)}",
        }
    model = load_model(setup.model, own_head=True)
    test = prepared.splits["test"]
    args = training_arguments(
        setup.training,
        setup.search_space,
        setup.reference,
        output_dir=RunLayout(setup.output_dir).zero_shot,
        quiet=True,
    )
    trainer = Trainer(model=model, args=args, processing_class=tokenizer)
    logits, test_labels, seconds = predict_logits(trainer, test)
    ids = logits.argmax(-1)
    predictions = np.asarray([mapping[int(i)] for i in ids])
    result = score(
        predictions,
        test_labels,
        labels,
        objective_for(setup.metric, labels, positive_label=setup.positive_label),
    )
    result |= {
        "name": "pretrained, no fine-tuning",
        "applicable": True,
        "label_map": {str(model_config.id2label[i]): v for i, v in mapping.items()},
        "test_seconds": round(seconds, 1),
        "predictions": predictions.tolist(),
    }
    logger.info("Zero-shot baseline: test accuracy %.4f", result["accuracy"])
    return result


def run_baselines(
    setup: TrainerSetup, data: DataSection, *, tfidf_settings: int | None = None
) -> dict[str, Any]:
    """Classical and zero-shot baselines on the test split, cached in ``baselines.json``
    (``setup``: the backbone zero-shot scores, the metric and the run folder;
    ``tfidf_settings``: the TF-IDF grid's settings a budget's plan holds, None for all)."""
    grid = tfidf_grid(tfidf_settings)
    key = {
        "data": locate(data).fingerprint or data.dataset,
        "model": setup.model.name,
        "max_length": data.max_length,
        "truncation": [data.truncation, data.head_fraction],
        "drop_test_overlap": data.drop_test_overlap,
        "columns": [data.text_column, data.text_pair_column, data.label_column],
        "label_names": data.label_names,
        "test_split": [data.test_fraction, data.split_seed],
        "metric": [setup.metric, data.positive_label],
        # The classical model's settings are chosen on this validation split.
        "validation": [data.validation_fraction, "tuned on validation, saved as plain data"],
    }
    if len(grid) < len(tfidf_grid()):  # a part of the grid (the whole one's key is as before)
        key["tfidf_grid"] = [[list(ngrams), c] for ngrams, c in grid]
    layout = RunLayout(setup.output_dir)
    path = layout.baselines
    done = reuse_result(path, key, refuse_other=False, what="baselines")
    # The classical model's files are part of the result: without them it is made again.
    whole = (layout.classical / PROBABILITIES).is_file() and (
        layout.classical / "model" / CLASSICAL_RECORD
    ).is_file()
    if done is not None and whole:
        return done
    return save_result(
        path,
        key,
        {
            "classical": classical(data, setup.metric, layout.classical, settings=tfidf_settings),
            "zero_shot": zero_shot(setup, data),
        },
    )
