"""Length-bucketed training batches: little padding, random order."""

from __future__ import annotations

import random

import torch

from hpo.train.batching import LengthBucketSampler


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
