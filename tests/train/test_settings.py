"""One resolver says where a training key's value comes from, with Trainer's own defaults."""

from __future__ import annotations

import pytest
from transformers import TrainingArguments

from hpo.config.space import ParamSpec
from hpo.train.settings import Setting, setting, trainer_defaults, with_defaults


@pytest.mark.parametrize(
    ("space", "training", "expected", "lowest", "highest"),
    [
        ({"num_train_epochs": ParamSpec("int", 2, 4)}, {"num_train_epochs": 9}, "searched", 2, 4),
        ({}, {"num_train_epochs": 9}, "fixed", 9, 9),
        ({}, {}, "default", 3.0, 3.0),
        (
            {"num_train_epochs": ParamSpec("categorical", choices=[5, 1, 3])},
            {},
            "searched",
            1,
            5,
        ),
    ],
)
def test_where_a_key_comes_from(
    space: dict, training: dict, expected: str, lowest: float, highest: float
) -> None:
    found = setting("num_train_epochs", space, training)
    assert isinstance(found, Setting) and found.source == expected
    assert (found.lowest(), found.highest()) == (lowest, highest)


def test_the_defaults_are_transformers_own() -> None:
    args = TrainingArguments(output_dir="unused")
    for key in ("num_train_epochs", "per_device_train_batch_size", "seed", "learning_rate"):
        assert trainer_defaults()[key] == getattr(args, key)
    assert with_defaults({"seed": 7})["seed"] == 7
    with pytest.raises(KeyError, match="no TrainingArguments field"):
        setting("not_a_field", {}, {})
