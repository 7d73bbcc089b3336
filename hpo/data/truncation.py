"""Which tokens of a long text the model sees: its head, its tail, or both.

``data.truncation: head`` is the tokenizer's own truncation (and the only one for text pairs,
where truncation takes from the longer side). ``tail`` keeps the end of the text; ``head+tail``
keeps ``data.head_fraction`` of the token budget from the start and the rest from the end,
where reviews tend to give their verdict. Training, scoring and ``hpo predict`` all encode
through :func:`encode`, so a model sees at prediction what it saw in training.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from hpo.errors import ConfigError

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

#: Values of ``data.truncation``.
TRUNCATIONS = ("head", "tail", "head+tail")


def encode(
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    pairs: Sequence[str] | None = None,
    *,
    max_length: int,
    truncation: str = "head",
    head_fraction: float = 0.25,
) -> dict[str, list[list[int]]]:
    """Token ids (and attention mask, token types) of ``texts``, at most ``max_length`` each,
    unpadded."""
    if truncation not in TRUNCATIONS:
        raise ConfigError(f"data.truncation: {truncation!r} is not one of {TRUNCATIONS}.")
    if truncation == "head" or pairs is not None:
        return dict(tokenizer(list(texts), pairs, truncation=True, max_length=max_length))
    prefix, suffix = _special_ids(tokenizer)
    budget = max_length - len(prefix) - len(suffix)
    # verbose=False: the whole text is tokenized on purpose, longer than the model takes.
    content = tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]
    head = round(budget * head_fraction) if truncation == "head+tail" else 0
    out: dict[str, list[list[int]]] = {"input_ids": [], "attention_mask": []}
    types = "token_type_ids" in tokenizer.model_input_names
    if types:
        out["token_type_ids"] = []
    for ids in content:
        if len(ids) > budget:
            ids = ids[:head] + ids[len(ids) - (budget - head) :]
        full = prefix + ids + suffix
        out["input_ids"].append(full)
        out["attention_mask"].append([1] * len(full))
        if types:
            out["token_type_ids"].append([0] * len(full))
    return out


def _special_ids(tokenizer: PreTrainedTokenizerBase) -> tuple[list[int], list[int]]:
    """The special tokens the tokenizer puts before and after a single text ([CLS] and [SEP]
    for BERT), checked to be the same for any text."""
    probe = "a b"
    bare = tokenizer(probe, add_special_tokens=False)["input_ids"]
    full = tokenizer(probe)["input_ids"]
    for start in range(len(full) - len(bare) + 1):
        if full[start : start + len(bare)] == bare:
            prefix, suffix = full[:start], full[start + len(bare) :]
            other = tokenizer("z")["input_ids"]
            if other[: len(prefix)] == prefix and other[len(other) - len(suffix) :] == suffix:
                return prefix, suffix
    raise ConfigError(
        f"data.truncation: {type(tokenizer).__name__} does not wrap a text in fixed special "
        "tokens, so tail and head+tail cannot be cut here; use data.truncation: head."
    )


def describe(truncation: str, head_fraction: float) -> str:
    """For logs and reports: "head", "tail", or "head+tail (25% head)"."""
    if truncation == "head+tail":
        return f"head+tail ({head_fraction:.0%} head)"
    return truncation
