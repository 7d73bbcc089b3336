"""data.truncation: which tokens of a long text the model sees, in training and in predict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tiny import NEUTRAL, build_tokenizer, synthetic_reviews, write_jsonl

from hpo.config import DataSection
from hpo.errors import ConfigError
from hpo.load import config_from_dict
from hpo.prepare import prepare
from hpo.truncation import encode, options


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
            config_from_dict({**base, "data": {"path": "d", **data}}, check_training=False)


def test_truncation_is_part_of_the_cache_key_and_the_identity(
    tokenizer: Any, tmp_path: Path
) -> None:
    write_jsonl(synthetic_reviews(60, seed=1), tmp_path / "data" / "train.jsonl")
    common = {"path": str(tmp_path / "data"), "max_length": 16, "cache_dir": str(tmp_path / "c")}
    head = prepare(DataSection(**common), tokenizer)
    both = prepare(DataSection(**common, truncation="head+tail", head_fraction=0.5), tokenizer)
    assert head.cache_key != both.cache_key
    assert head.identity["data.truncation"] == "head"
    assert both.identity["data.truncation"] == "head+tail (50% head)"
    assert head.splits["train"]["label"] == both.splits["train"]["label"]


def test_a_model_record_without_the_keys_was_cut_at_the_head() -> None:
    assert options({}) == {"truncation": "head", "head_fraction": 0.25}
    assert options({"truncation": "tail", "head_fraction": 0.5})["truncation"] == "tail"
