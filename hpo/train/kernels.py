"""CPU speed in one place: which attention kernel and which dropout masks a training step and an
evaluation run with.

On a CPU, SDPA with attention dropout takes PyTorch's unfused math path and draws its own mask,
where :mod:`hpo.train.dropout` cannot reach it; plain matmul attention ("eager") calls
``F.dropout``, and with packed masks or under bf16 it trains faster than SDPA. Scoring has no
dropout, and there SDPA's fused kernel is the faster one. So with ``model.attn_implementation:
auto`` a CPU trains with eager attention and scores with the kernel the model loaded with;
switching is a config change, not a reload. GPUs keep the default kernel and PyTorch's fused
dropout. The step times behind these choices are in the docs (*How a search works*) and in the
benchmark results under ``bench/results/``.

Both loops also leave cuDNN attention out of SDPA's backends: it builds an execution graph for
every new sequence length, and dynamically padded batches bring a new length almost every step.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from transformers import TrainingArguments

from hpo.train.dropout import PackedDropout

#: SDPA backends for dynamically padded batches: PyTorch's own order without cuDNN attention.
SDPA_BACKENDS = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]


def _on_cpu(args: TrainingArguments) -> bool:
    return bool(args.use_cpu) or not torch.cuda.is_available()


def training_dropout(requested: str, args: TrainingArguments) -> bool:
    """Whether training steps draw dropout masks with :class:`hpo.train.dropout.PackedDropout`:
    only if asked for (``model.dropout_masks: auto``) and on a CPU, where PyTorch draws one
    random number per element (on one thread on some CPUs); a GPU keeps its fused dropout."""
    return requested == "auto" and _on_cpu(args)


def training_attention(
    requested: str, args: TrainingArguments, packed_dropout: bool = False
) -> str | None:
    """The attention kernel for training steps where it should differ from the one the model
    loaded with (which evaluation keeps); None: the loaded kernel throughout.

    ``auto`` on a CPU under bf16 or packed dropout: eager. Any named kernel is kept throughout.
    """
    if requested != "auto":
        return None
    return "eager" if _on_cpu(args) and (args.bf16 or packed_dropout) else None


def _kernel_of(model: Any) -> str | None:
    # Transformers keeps the kernel in a private config attribute; no public getter exists.
    # tests/meta/test_private_apis.py fails clearly if a release renames it.
    return getattr(getattr(model, "config", None), "_attn_implementation", None)


class StepKernels:
    """The attention kernel and dropout masks of one trainer's training steps and evaluation.

    ``with kernels.training(model):`` around forward and backward, ``with
    kernels.evaluation(model):`` around scoring. The kernel each model was loaded with is
    remembered here (by a weak reference), so evaluation goes back to it.
    """

    def __init__(self, *, train_attn_implementation: str | None, packed_dropout: bool) -> None:
        self.train_attn_implementation = train_attn_implementation
        self.packed_dropout = packed_dropout
        self._loaded: weakref.WeakKeyDictionary[Any, str | None] = weakref.WeakKeyDictionary()

    @classmethod
    def choose(
        cls, attn_implementation: str, dropout_masks: str, args: TrainingArguments
    ) -> StepKernels:
        """The kernels of ``model.attn_implementation`` and ``model.dropout_masks`` here."""
        packed = training_dropout(dropout_masks, args)
        return cls(
            train_attn_implementation=training_attention(attn_implementation, args, packed),
            packed_dropout=packed,
        )

    def kernels(self, model: Any) -> tuple[str | None, str | None]:
        """(training, evaluation) attention kernels of ``model``."""
        loaded = self._loaded.get(model, _kernel_of(model)) if model is not None else None
        return self.train_attn_implementation or loaded, loaded

    def _use(self, model: Any, training: bool) -> None:
        if self.train_attn_implementation is None or model is None or not hasattr(model, "config"):
            return
        if model not in self._loaded:
            self._loaded[model] = _kernel_of(model)
        train, evaluate = self.kernels(model)
        wanted = train if training else evaluate
        if _kernel_of(model) != wanted:
            model.set_attn_implementation(wanted)

    @contextmanager
    def training(self, model: Any) -> Iterator[None]:
        """A training step's forward and backward: the training kernel, packed masks if chosen."""
        self._use(model, training=True)
        with ExitStack() as stack:
            stack.enter_context(sdpa_kernel(SDPA_BACKENDS))
            if self.packed_dropout:
                stack.enter_context(PackedDropout())
            yield

    @contextmanager
    def evaluation(self, model: Any) -> Iterator[None]:
        """Scoring: the kernel the model was loaded with."""
        self._use(model, training=False)
        with sdpa_kernel(SDPA_BACKENDS):
            yield

    @property
    def dropout_masks(self) -> str:
        """``packed`` or ``torch``, as recorded on each trial."""
        return "packed" if self.packed_dropout else "torch"
