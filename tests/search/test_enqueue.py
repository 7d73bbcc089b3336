"""The trials a new study starts with: the strong default, then the reference (table-driven)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from hpo.config.validate import config_from_dict
from hpo.search.enqueue import first_trials
from hpo.train.settings import with_defaults

RATE = {"type": "float", "low": 1e-5, "high": 2e-4, "log": True}
BATCH = {"type": "categorical", "choices": [16, 32]}
WARMUP = {"type": "float", "low": 0.0, "high": 0.2}
DEFAULT = {"learning_rate": 5e-5, "per_device_train_batch_size": 32, "warmup_steps": 0.1}


def config(space: dict[str, Any], *, enqueue: bool, **sections: Any) -> Any:
    raw = {
        "study": {"name": "e", "enqueue_reference": enqueue},
        "model": {"name": "m"},
        "data": {"path": "/nowhere"},
        "search_space": space,
        # The batch is Transformers' default, 8, where it is not searched.
        "training": {"num_train_epochs": 3},
        **sections,
    }
    return config_from_dict(raw)


@pytest.mark.parametrize(
    ("space", "enqueue", "extra", "expected"),
    [
        # The default first, then the reference, a point of its own.
        (
            {"learning_rate": RATE, "per_device_train_batch_size": BATCH, "warmup_steps": WARMUP},
            True,
            {"reference": {"learning_rate": 2e-5, "per_device_train_batch_size": 16}},
            [
                (DEFAULT, {"strong_default": True}),
                ({"learning_rate": 2e-5, "per_device_train_batch_size": 16}, {"reference": True}),
            ],
        ),
        # No reference asked for: the default alone.
        (
            {"learning_rate": RATE, "per_device_train_batch_size": BATCH, "warmup_steps": WARMUP},
            False,
            {},
            [(DEFAULT, {"strong_default": True})],
        ),
        # The same point: enqueued once, under both names.
        (
            {"learning_rate": RATE},
            True,
            {"reference": {"learning_rate": 5e-5}},
            [({"learning_rate": 5e-5}, {"strong_default": True, "reference": True})],
        ),
        # A space that leaves the recipe's rate out: no default, the reference alone.
        (
            {"learning_rate": {"type": "float", "low": 1e-6, "high": 3e-5}},
            True,
            {"reference": {"learning_rate": 2e-5}},
            [({"learning_rate": 2e-5}, {"reference": True})],
        ),
        # A batch size the space does not offer: no default.
        (
            {"per_device_train_batch_size": {"type": "categorical", "choices": [8, 16]}},
            False,
            {},
            [],
        ),
        # Warmup searched in steps: the recipe's share of this run, in steps.
        (
            {"warmup_steps": {"type": "int", "low": 0, "high": 500}},
            False,
            {},
            [({"warmup_steps": round(0.1 * math.ceil(1000 / 8) * 3)}, {"strong_default": True})],
        ),
    ],
    ids=["then-reference", "alone", "same-point", "rate-outside", "batch-outside", "steps"],
)
def test_first_trials(space, enqueue, extra, expected) -> None:
    made = config(space, enqueue=enqueue, **extra)
    trials = first_trials(
        made.search_space,
        with_defaults(made.training),
        made.reference,
        enqueue_reference=made.study.enqueue_reference,
        n_train=1000,
    )
    assert trials == expected
