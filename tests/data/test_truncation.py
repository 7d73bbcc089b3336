"""data.truncation: which tokens of a long text the model sees, in training and in predict."""

from __future__ import annotations

from typing import Any

import pytest
from tiny import NEUTRAL, build_tokenizer

from hpo.config.validate import config_from_dict
from hpo.data.truncation import encode
from hpo.errors import ConfigError


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return build_tokenizer(tmp_path_factory.mktemp("tok"))


# One word per token: the tiny vocabulary has every word whole.
WORDS = [NEUTRAL[i % len(NEUTRAL)] for i in range(40)]


TEXT = " ".join(WORDS)


def _words(tokenizer: Any, ids: list[int]) -> list[str]:
    return tokenizer.convert_ids_to_tokens(ids)


@pytest.mark.parametrize(
    ("truncation", "expected"),
    [
        ("head", WORDS[:10]),
        ("tail", WORDS[-10:]),
        ("head+tail", WORDS[:2] + WORDS[-8:]),  # 25% of a 10-token budget, rounded, from the head
    ],
)
def test_the_kept_tokens(tokenizer: Any, truncation: str, expected: list[str]) -> None:
    out = encode(tokenizer, [TEXT, "quite film"], max_length=12, truncation=truncation)
    first = _words(tokenizer, out["input_ids"][0])
    assert first == ["[CLS]", *expected, "[SEP]"]
    assert out["attention_mask"][0] == [1] * 12
    assert _words(tokenizer, out["input_ids"][1]) == ["[CLS]", "quite", "film", "[SEP]"]
    if "token_type_ids" in out:
        assert out["token_type_ids"][0] == [0] * 12


def test_head_matches_the_tokenizers_own_truncation(tokenizer: Any) -> None:
    ours = encode(tokenizer, [TEXT], max_length=12)
    theirs = tokenizer([TEXT], truncation=True, max_length=12)
    assert ours["input_ids"] == theirs["input_ids"]


def test_pairs_only_take_head_and_bad_values_are_refused() -> None:
    base = {"study": {"name": "s"}, "model": {"name": "m"}}
    for data, message in (
        ({"truncation": "middle"}, "data.truncation: unknown value 'middle'"),
        ({"truncation": "tail", "text_pair_column": "b"}, "applies to single texts"),
        ({"truncation": "head+tail", "head_fraction": 1.5}, "data.head_fraction must be"),
    ):
        with pytest.raises(ConfigError, match=message):
            config_from_dict({**base, "data": {"path": "d", **data}})
