"""Packed dropout masks: the same distribution, scaling and gradients as ``F.dropout``."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from hpo.train.dropout import LEVELS, PackedDropout, packed_dropout


@pytest.mark.parametrize("p", [0.1, 0.5, 0.02])
def test_mask_is_bernoulli_p_in_every_lane(p: float) -> None:
    torch.manual_seed(0)
    x = torch.ones(400_000)
    out = packed_dropout(x, p)
    dropped = out == 0
    rate = round(p * LEVELS) / LEVELS
    # 4 standard deviations of a binomial over 100k elements per lane
    tol = 4 * (rate * (1 - rate) / 100_000) ** 0.5
    for lane in range(4):  # each 16-bit slice of a 64-bit draw must be unbiased
        assert abs(dropped[lane::4].float().mean().item() - rate) < tol
    assert torch.allclose(out[~dropped], torch.full_like(out[~dropped], 1 / (1 - rate)))
    # Neighbouring elements are independent: pairs both dropped at rate p^2.
    both = (dropped[:-1] & dropped[1:]).float().mean().item()
    assert abs(both - rate**2) < 4 * (rate**2 / 400_000) ** 0.5 + 1e-4


def test_expectation_and_gradient_match_dropout() -> None:
    torch.manual_seed(0)
    x = torch.randn(64, 128, 96, requires_grad=True)
    out = packed_dropout(x, 0.1)
    assert out.mean().item() == pytest.approx(x.mean().item(), abs=3e-3)
    out.backward(torch.ones_like(out))
    # d out / d x is the mask times the scale: the kept elements' factor, 0 elsewhere.
    factor = torch.where(out == 0, 0.0, out / x)
    assert torch.allclose(x.grad, factor.detach(), rtol=1e-5)


def test_keeps_dtype_shape_and_is_reproducible_under_a_seed() -> None:
    x = torch.randn(8, 12, 33, 33, dtype=torch.bfloat16)  # numel not a multiple of 4
    torch.manual_seed(3)
    a = packed_dropout(x, 0.1)
    torch.manual_seed(3)
    b = packed_dropout(x, 0.1)
    assert a.dtype == torch.bfloat16 and a.shape == x.shape
    assert torch.equal(a, b)
    assert not torch.equal(a, packed_dropout(x, 0.1))  # the generator moved on


def test_edge_cases_follow_dropout() -> None:
    x = torch.randn(10, 10)
    assert packed_dropout(x, 0.3, training=False) is x
    assert packed_dropout(x, 0.0) is x
    assert torch.equal(packed_dropout(x, 1.0), torch.zeros_like(x))
    y = x.clone()
    out = packed_dropout(y, 0.5, inplace=True)
    assert out is y and ((y == 0) | torch.isclose(y, 2 * x)).all()
    with pytest.raises(ValueError, match="between 0 and 1"):
        packed_dropout(x, 1.5)


def test_mode_routes_dropout_modules_and_functional_calls() -> None:
    """nn.Dropout and F.dropout calls in scope use the packed masks; nothing else changes."""
    x = torch.randn(1000, 64)
    layer = nn.Dropout(0.1).train()
    with PackedDropout():
        torch.manual_seed(1)
        via_module = layer(x)
        torch.manual_seed(1)
        via_function = F.dropout(x, 0.1)
        assert torch.equal(torch.relu(x), x.clamp(min=0))  # other functions pass through
    torch.manual_seed(1)
    expected = packed_dropout(x, 0.1)
    assert torch.equal(via_module, expected) and torch.equal(via_function, expected)
    torch.manual_seed(1)
    assert not torch.equal(layer(x), expected)  # out of scope: PyTorch's own masks
    layer.eval()
    with PackedDropout():
        assert torch.equal(layer(x), x)
