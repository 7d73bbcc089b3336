"""Training pieces that need no model: precision, attention and dropout defaults, the bucket
sampler."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest
import torch

from hpo.kernels import training_attention, training_dropout
from hpo.sampler import LengthBucketSampler
from hpo.training_args import precision_defaults


def test_precision_defaults_follow_the_gpu_and_the_config() -> None:
    assert precision_defaults({}, bf16=False, tf32=False) == {}  # CPU: nothing changes
    assert precision_defaults({}, bf16=True, tf32=True) == {"bf16": True, "tf32": True}
    assert precision_defaults({}, bf16=False, tf32=True) == {"tf32": True}  # e.g. no bf16
    # What the config says wins: fp16 chosen, or bf16/tf32 turned off.
    assert precision_defaults({"fp16": True}, bf16=True, tf32=True) == {"tf32": True}
    assert precision_defaults({"bf16": False, "tf32": False}, bf16=True, tf32=True) == {}
    # A CPU with native bf16 (AVX512-BF16/AMX): Trainer needs use_cpu for bf16 there.
    cpu = {"bf16": False, "tf32": False, "cpu_bf16": True}
    assert precision_defaults({}, **cpu) == {"bf16": True, "use_cpu": True}
    assert precision_defaults({"bf16": False}, **cpu) == {}


def test_auto_trains_with_eager_attention_on_a_cpu_under_bf16_or_packed_dropout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cpu_bf16 = SimpleNamespace(use_cpu=True, bf16=True)
    assert training_attention("auto", cpu_bf16) == "eager"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    fp32 = SimpleNamespace(use_cpu=False, bf16=False)
    assert training_attention("auto", SimpleNamespace(use_cpu=False, bf16=True)) == "eager"
    assert training_attention("auto", fp32, packed_dropout=True) == "eager"
    assert training_attention("auto", fp32) is None  # fp32 with PyTorch's own dropout masks
    # On a GPU, SDPA's fused kernels handle dropout: the loaded kernel stays.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    gpu_bf16 = SimpleNamespace(use_cpu=False, bf16=True)
    assert training_attention("auto", gpu_bf16, packed_dropout=True) is None
    # A kernel named in the config is used throughout.
    assert training_attention("sdpa", cpu_bf16, packed_dropout=True) is None


def test_packed_dropout_masks_on_a_cpu_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert training_dropout("auto", SimpleNamespace(use_cpu=True)) is True  # a CPU run on a GPU box
    assert training_dropout("auto", SimpleNamespace(use_cpu=False)) is False  # the GPU's own
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert training_dropout("auto", SimpleNamespace(use_cpu=False)) is True
    assert training_dropout("torch", SimpleNamespace(use_cpu=True)) is False


def _batches(indices: list[int], size: int) -> list[list[int]]:
    return [indices[i : i + size] for i in range(0, len(indices), size)]


def _padding_efficiency(lengths: list[int], indices: list[int], size: int) -> float:
    batches = _batches(indices, size)
    real = sum(lengths[i] for b in batches for i in b)
    return real / sum(len(b) * max(lengths[i] for i in b) for b in batches)


def test_length_bucket_sampler_groups_lengths_in_random_order() -> None:
    rng = random.Random(0)
    lengths = [rng.randint(20, 512) for _ in range(203)]  # 12 full batches of 16, then 11
    torch.manual_seed(0)
    sampler = LengthBucketSampler(lengths, 16)
    first, second = list(sampler), list(sampler)

    assert sorted(first) == list(range(203)), "every review once per epoch"
    batches = _batches(first, 16)
    assert [len(b) for b in batches] == [16] * 12 + [11], "only the last batch is short"
    # Small data: one bucket, so every batch holds neighbours in length order...
    spans = [max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches]
    assert max(spans) < 120
    assert _padding_efficiency(lengths, first, 16) > 0.9
    # ...while random batches pad far more.
    shuffled = torch.randperm(203).tolist()
    assert _padding_efficiency(lengths, shuffled, 16) < 0.75
    # The batch order is random (not long-to-short), and differs from epoch to epoch.
    maxima = [max(lengths[i] for i in b) for b in batches[:-1]]
    assert maxima != sorted(maxima) and maxima != sorted(maxima, reverse=True)
    assert first != second

    # Buckets bound how far apart a batch's members can come from in the shuffle.
    big = LengthBucketSampler(list(range(1000)), 10, bucket_batches=5)
    assert sorted(big) == list(range(1000))
