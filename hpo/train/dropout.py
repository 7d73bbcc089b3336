"""Dropout masks for training on a CPU, drawn four to a random number.

PyTorch's CPU dropout draws one random number per element with ``bernoulli_``, and on CPUs
where it does not hand that to MKL (AMD's, among others) it draws them on one thread, a large
share of a small model's training step (``aten::bernoulli_`` in ``torch.profiler``; the
docs' *How a search works* has the measured share and the step times). Here each 64-bit draw of
PyTorch's own generator gives four 16-bit lanes, and a lane below ``round(p * 65536)`` drops
its element: the mask is Bernoulli with ``p`` rounded to 1/65536 (0.1 becomes 0.100006), the
kept elements are scaled by the exact inverse of the keep rate, so the expectation is
unchanged, and ``torch.manual_seed`` reproduces it. Mask and scaling are plain tensor ops, so
autograd differentiates them as ``F.dropout``'s own.

:class:`PackedDropout` applies it to every ``torch.nn.functional.dropout`` call in its scope:
``nn.Dropout`` modules and the attention-probability dropout of Transformers' eager attention
both go through that function. It is a :class:`~torch.overrides.TorchFunctionMode`, PyTorch's
own hook for redirecting functions within a scope, so nothing is patched and everything else
passes through unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

#: Values a 16-bit lane takes; ``p`` is rounded to a multiple of its inverse.
LEVELS = 1 << 16
_LANES = 4  # 16-bit lanes in one 64-bit draw


def packed_dropout(
    input: torch.Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
) -> torch.Tensor:
    """``torch.nn.functional.dropout`` with a mask drawn four elements per 64-bit draw."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    cut = round(p * LEVELS)
    if cut == LEVELS:  # p rounds to 1: everything dropped, as F.dropout does for p=1
        return input.mul_(0.0) if inplace else input * 0.0
    n = input.numel()
    # randint over the whole int64 range: every bit of each draw is uniform, so each of the
    # four int16 lanes is uniform on [-32768, 32767].
    draws = torch.randint(
        -(1 << 63),
        (1 << 63) - 1,
        ((n + _LANES - 1) // _LANES,),
        dtype=torch.int64,
        device=input.device,
    )
    lanes = draws.view(torch.int16)[:n].view(input.shape)
    keep = lanes >= cut - LEVELS // 2  # P(drop) = cut / LEVELS
    scale = LEVELS / (LEVELS - cut)
    # Multiply by the bool mask in the input's dtype, then scale in place: the same two steps
    # as ATen's dropout, so bf16 activations stay bf16 and the scale is not rounded to bf16.
    if inplace:
        return input.mul_(keep).mul_(scale)
    return (input * keep).mul_(scale)


class PackedDropout(TorchFunctionMode):
    """Within this context, ``torch.nn.functional.dropout`` is :func:`packed_dropout`."""

    def __torch_function__(
        self,
        func: Callable[..., Any],
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        if func is F.dropout:
            return packed_dropout(*args, **(kwargs or {}))
        return func(*args, **(kwargs or {}))
