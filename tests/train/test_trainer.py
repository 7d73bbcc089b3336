"""HpoTrainer on tiny models: length-ordered batches, kernels per loop, released trials."""

from __future__ import annotations

import gc
import weakref
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from transformers import TrainerCallback

from hpo.api import load_config
from hpo.search.loop import load_search_data
from hpo.train.batching import LengthBucketSampler
from hpo.train.trainer import build_trainer

pytestmark = pytest.mark.slow


def _search_trainer(config: Any) -> tuple[Any, Any]:
    """The trainer a search builds for ``config``, and its prepared data."""
    tokenizer, prepared = load_search_data(config.model, config.data, config.study.metric)
    trainer = build_trainer(
        config.trainer_setup,
        train_dataset=prepared.splits["train"],
        eval_dataset=prepared.splits["validation"],
        tokenizer=tokenizer,
        output_dir=config.output_dir,
        quiet=True,
    )
    return trainer, prepared


def test_trainer_batches_by_length_and_evaluates_in_length_order(make_config) -> None:
    # Through Trainer's own dataloader path, which strips the "length" column before it asks
    # for a sampler: training batches come from LengthBucketSampler, evaluation runs in order.
    config = load_config(make_config({"training": {"train_sampling_strategy": "group_by_length"}}))
    trainer, prepared = _search_trainer(config)
    train_sampler = trainer.get_train_dataloader().batch_sampler.sampler
    assert isinstance(train_sampler, LengthBucketSampler)
    assert len(train_sampler) == len(prepared.splits["train"])
    lengths = []
    for batch in trainer.get_eval_dataloader():
        lengths += batch["attention_mask"].sum(dim=1).tolist()
    assert lengths == sorted(lengths), "the validation set is scored shortest first"


class _KernelSpy(TrainerCallback):
    """The attention kernel the model runs in training steps and in evaluation."""

    def __init__(self) -> None:
        self.seen: dict[str, set[str]] = {"train": set(), "eval": set()}

    def on_step_end(
        self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any
    ) -> None:
        self.seen["train"].add(model.config._attn_implementation)

    def on_prediction_step(
        self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any
    ) -> None:
        self.seen["eval"].add(model.config._attn_implementation)


@pytest.mark.parametrize(
    ("kernel", "bf16", "masks", "train", "evaluate"),
    [
        # On a CPU, eager trains faster under bf16 or packed dropout; SDPA scores faster.
        ("auto", True, "torch", "eager", "sdpa"),
        ("auto", False, "auto", "eager", "sdpa"),
        ("auto", False, "torch", "sdpa", "sdpa"),
        ("sdpa", True, "auto", "sdpa", "sdpa"),  # a named kernel is used throughout
        ("eager", False, "torch", "eager", "eager"),
    ],
)
def test_attention_kernel_per_loop(
    make_config,
    monkeypatch: pytest.MonkeyPatch,
    kernel: str,
    bf16: bool,
    masks: str,
    train: str,
    evaluate: str,
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    model = {"attn_implementation": kernel, "dropout_masks": masks}
    config = load_config(make_config({"model": model, "training": {"bf16": bf16}}))
    trainer, _ = _search_trainer(config)
    spy = _KernelSpy()
    trainer.add_callback(spy)
    trainer.train()
    assert spy.seen == {"train": {train}, "eval": {evaluate}}
    assert trainer.attention_kernels() == (train, evaluate)


@pytest.mark.parametrize(("masks", "packed"), [("auto", True), ("torch", False)])
def test_packed_dropout_in_training_steps_only(
    make_config, monkeypatch: pytest.MonkeyPatch, masks: str, packed: bool
) -> None:
    # On a CPU, auto draws the masks of every training step's dropout calls (hidden states and
    # eager attention's probabilities) with hpo.train.dropout; evaluation never runs in that mode.
    import hpo.train.dropout

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    calls: list[tuple[bool, float]] = []
    real = hpo.train.dropout.packed_dropout

    def spy(input: torch.Tensor, p: float = 0.5, training: bool = True, **kw: Any) -> Any:
        calls.append((training, p))
        return real(input, p, training, **kw)

    monkeypatch.setattr(hpo.train.dropout, "packed_dropout", spy)
    config = load_config(make_config({"model": {"dropout_masks": masks}}))
    trainer, _ = _search_trainer(config)
    trainer.train()
    if packed:
        assert calls and {training for training, _ in calls} == {True}
        assert {p for _, p in calls} == {0.1}  # the tiny BERT's hidden and attention dropout
    else:
        assert calls == []


class _SdpaSpy(TrainerCallback):
    """Whether cuDNN attention is open to SDPA in each forward pass, by train/eval mode."""

    def __init__(self) -> None:
        self.seen: dict[str, set[bool]] = {"train": set(), "eval": set()}

    def on_train_begin(
        self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any
    ) -> None:
        def record(module: torch.nn.Module, inputs: Any) -> None:
            mode = "train" if module.training else "eval"
            self.seen[mode].add(torch.backends.cuda.cudnn_sdp_enabled())

        model.register_forward_pre_hook(record)


def test_no_cudnn_attention_in_either_loop(make_config) -> None:
    # cuDNN attention builds a graph per new sequence length; dynamically padded batches bring
    # one almost every step, so both loops leave it out, and only while they run.
    trainer, _ = _search_trainer(load_config(make_config()))
    spy = _SdpaSpy()
    trainer.add_callback(spy)
    assert torch.backends.cuda.cudnn_sdp_enabled()
    trainer.train()
    assert spy.seen == {"train": {False}, "eval": {False}}
    assert torch.backends.cuda.cudnn_sdp_enabled()


def test_last_trials_model_and_optimizer_are_gone_when_the_next_trains(
    make_config, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Trainer would keep them referenced (and the model in a reference cycle) into the next
    # trial, on top of its own model and optimizer. Automatic collection is off so that only
    # HpoTrainer's own release can free them; then the heap is trimmed.
    import hpo.train.memory

    trims: list[int] = []
    libc = SimpleNamespace(malloc_trim=lambda pad: trims.append(pad))
    monkeypatch.setattr(hpo.train.memory, "libc", lambda: libc)
    trainer, _ = _search_trainer(load_config(make_config()))
    trainer.train()
    last = [weakref.ref(trainer.model), weakref.ref(trainer.optimizer)]
    alive: list[bool] = []

    class Check(TrainerCallback):
        def on_train_begin(self, *args: Any, **kwargs: Any) -> None:
            alive.append(any(ref() is not None for ref in last))

    trainer.add_callback(Check())
    gc.disable()
    try:
        trainer.train()
    finally:
        gc.enable()
    assert alive == [False]
    assert trims == [0, 0]  # before each of the two trials
