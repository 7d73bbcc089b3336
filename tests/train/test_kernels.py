"""The attention kernel and dropout masks a CPU trains with under model: auto."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from hpo.train.kernels import training_attention, training_dropout


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
