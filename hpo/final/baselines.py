"""Baselines on the same test split: TF-IDF + logistic regression, and the pretrained model as
it is (zero-shot) when its head already predicts the data's classes; :func:`run_baselines` is
the stage, reused while its inputs are unchanged."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hpo.data.labels import class_summary, names_of
from hpo.data.sources import locate
from hpo.data.splits import final_splits
from hpo.data.tokenized import prepare
from hpo.final.scoring import score
from hpo.runs import RunLayout, reuse_result, save_result
from hpo.train.arguments import training_arguments
from hpo.train.inference import predict_logits
from hpo.train.model import load_model, load_model_config, load_tokenizer
from hpo.train.objective import objective_for

if TYPE_CHECKING:
    from hpo.config.schema import DataSection, HpoConfig

logger = logging.getLogger(__name__)

#: Spellings of one class that checkpoints and data sets use (SST-2's NEGATIVE, IMDb's neg).
#: A checkpoint's default names (LABEL_0, ...) name no class, so they never match.
_SYNONYMS = {"negative": "neg", "positive": "pos"}


def classical(data: DataSection, metric: str) -> dict[str, Any]:
    """TF-IDF (word 1-2 grams) + logistic regression, trained on the whole training split.

    Text pairs get a vectorizer per side, side by side, so the model sees which words are on
    which side.
    """
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    made = final_splits(data)
    train, test = made.splits["train"], made.splits["test"]
    sides = ["text", "text_pair"] if "text_pair" in train.column_names else ["text"]
    vectorizers = [
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_df=0.9, sublinear_tf=True) for _ in sides
    ]
    model = LogisticRegression(C=4.0, max_iter=2000)
    start = time.perf_counter()
    features = hstack([v.fit_transform(train[s]) for v, s in zip(vectorizers, sides, strict=True)])
    model.fit(features.tocsr(), np.asarray(train["label"]))
    fit_seconds = time.perf_counter() - start
    test_features = hstack([v.transform(test[s]) for v, s in zip(vectorizers, sides, strict=True)])
    predictions = np.asarray(model.predict(test_features.tocsr()))
    labels = names_of(train)
    result = score(
        predictions,
        np.asarray(test["label"]),
        labels,
        objective_for(metric, labels, positive_label=data.positive_label),
    )
    result |= {
        "name": "TF-IDF + logistic regression",
        "train_seconds": round(fit_seconds, 1),
        "predictions": predictions.tolist(),
    }
    logger.info("Classical baseline: test accuracy %.4f", result["accuracy"])
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


def zero_shot(config: HpoConfig) -> dict[str, Any]:
    """The pretrained model without fine-tuning, if its head's label names are the data's."""
    from transformers import Trainer

    tokenizer = load_tokenizer(config.model)
    prepared = prepare(config.data, tokenizer, stage="final")
    labels = prepared.labels
    model_config = load_model_config(config.model)
    mapping = head_mapping(getattr(model_config, "id2label", None) or {}, labels)
    if mapping is None:
        names = list((getattr(model_config, "id2label", None) or {}).values())
        return {
            "name": "pretrained, no fine-tuning",
            "applicable": False,
            "reason": f"the model's head predicts {class_summary(names)}, not the data's "
            f"{class_summary(labels)}",
        }
    model = load_model(config.model, own_head=True)
    test = prepared.splits["test"]
    args = training_arguments(
        config.training,
        config.search_space,
        config.reference,
        output_dir=RunLayout(config.output_dir).zero_shot,
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
        objective_for(config.study.metric, labels, positive_label=config.data.positive_label),
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


def run_baselines(config: HpoConfig) -> dict[str, Any]:
    """Classical and zero-shot baselines on the test split, cached in ``baselines.json``."""
    data = config.data
    key = {
        "data": locate(data).fingerprint or data.dataset,
        "model": config.model.name,
        "max_length": data.max_length,
        "truncation": [data.truncation, data.head_fraction],
        "drop_test_overlap": data.drop_test_overlap,
        "columns": [data.text_column, data.text_pair_column, data.label_column],
        "label_names": data.label_names,
        "test_split": [data.test_fraction, data.split_seed],
        "metric": [config.study.metric, data.positive_label],
    }
    path = RunLayout(config.output_dir).baselines
    done = reuse_result(path, key, refuse_other=False, what="baselines")
    if done is not None:
        return done
    return save_result(
        path,
        key,
        {
            "classical": classical(data, config.study.metric),
            "zero_shot": zero_shot(config),
        },
    )
