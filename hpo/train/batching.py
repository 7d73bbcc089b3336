"""Length-bucketed training batches: little padding, random order."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler


class LengthBucketSampler(Sampler[int]):
    """Training batches of reviews of similar length, in a random order.

    Shuffle; cut the shuffle into buckets of ``bucket_batches`` batches; sort each bucket by
    length and cut it into batches; shuffle the batches. Transformers' ``LengthGroupedSampler``
    does the first three steps, but always makes at least four buckets, so a search subset of a
    few hundred reviews still pads a quarter of its tokens at 512, and it keeps each bucket's
    batches in descending length order, so training runs from long reviews to short ones.
    Only the last batch of the epoch may be short, as the DataLoader's batching expects.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        *,
        bucket_batches: int = 50,
        generator: torch.Generator | None = None,
    ) -> None:
        self.lengths = [int(n) for n in lengths]
        self.batch_size = batch_size
        self.bucket_batches = bucket_batches
        self.generator = generator  # None: the global RNG, which Trainer seeds per trial

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self) -> Iterator[int]:
        n = len(self.lengths)
        if n == 0:
            return iter([])
        shuffled = torch.randperm(n, generator=self.generator).tolist()
        size = self.batch_size * self.bucket_batches
        batches: list[list[int]] = []
        for start in range(0, n, size):
            bucket = sorted(shuffled[start : start + size], key=self.lengths.__getitem__)
            step = self.batch_size
            batches += [bucket[i : i + step] for i in range(0, len(bucket), step)]
        short = batches.pop() if len(batches[-1]) < self.batch_size else []
        order = torch.randperm(len(batches), generator=self.generator).tolist()
        return iter([i for b in order for i in batches[b]] + short)
