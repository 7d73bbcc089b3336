"""Baselines on the same test split: TF-IDF + logistic regression, and the pretrained model as
it is (zero-shot) when it already has a sentiment head."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from hpo.data import LABEL_ALIASES, LABEL_NAMES, load_raw
from hpo.layout import RunLayout
from hpo.metrics import predict_logits, score
from hpo.model import load_model, load_model_config, load_tokenizer
from hpo.prepare import prepare
from hpo.training_args import training_arguments

if TYPE_CHECKING:
    from hpo.config import HpoConfig

logger = logging.getLogger(__name__)


def classical(config: HpoConfig) -> dict[str, Any]:
    """TF-IDF (word 1-2 grams) + logistic regression, trained on the whole training split."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    raw, _ = load_raw(config.data)
    train, test = raw["train"], raw["test"]
    model = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_df=0.9, sublinear_tf=True),
        LogisticRegression(C=4.0, max_iter=2000),
    )
    start = time.perf_counter()
    model.fit(train["text"], np.asarray(train["label"]))
    fit_seconds = time.perf_counter() - start
    predictions = model.predict(test["text"])
    result = score(np.asarray(predictions), np.asarray(test["label"]), LABEL_NAMES)
    result |= {
        "name": "TF-IDF + logistic regression",
        "train_seconds": round(fit_seconds, 1),
        "predictions": np.asarray(predictions).tolist(),
    }
    logger.info("Classical baseline: test accuracy %.4f", result["accuracy"])
    return result


def sentiment_head(id2label: dict[int, str]) -> dict[int, int] | None:
    """Map a model's own label ids to ours by their names (POSITIVE -> 1), or None."""
    mapping = {int(i): LABEL_ALIASES.get(str(name).strip().lower()) for i, name in id2label.items()}
    if len(mapping) != 2 or None in mapping.values() or set(mapping.values()) != {0, 1}:
        return None
    return mapping  # type: ignore[return-value]


def zero_shot(config: HpoConfig) -> dict[str, Any]:
    """The pretrained model without fine-tuning, if its head already predicts sentiment."""
    from transformers import Trainer

    model_config = load_model_config(config.model)
    mapping = sentiment_head(getattr(model_config, "id2label", None) or {})
    if mapping is None:
        names = list((getattr(model_config, "id2label", None) or {}).values())
        return {
            "name": "pretrained, no fine-tuning",
            "applicable": False,
            "reason": f"the model has no sentiment head (labels: {names})",
        }
    model = load_model(config.model, own_head=True)
    tokenizer = load_tokenizer(config.model)
    test = prepare(config.data, tokenizer, stage="final").splits["test"]
    args = training_arguments(config, output_dir=RunLayout.of(config).zero_shot, quiet=True)
    trainer = Trainer(model=model, args=args, processing_class=tokenizer)
    logits, labels, seconds = predict_logits(trainer, test)
    ids = logits.argmax(-1)
    predictions = np.asarray([mapping[int(i)] for i in ids])
    result = score(predictions, labels, LABEL_NAMES)
    result |= {
        "name": "pretrained, no fine-tuning",
        "applicable": True,
        "label_map": {str(model_config.id2label[i]): v for i, v in mapping.items()},
        "test_seconds": round(seconds, 1),
        "predictions": predictions.tolist(),
    }
    logger.info("Zero-shot baseline: test accuracy %.4f", result["accuracy"])
    return result
