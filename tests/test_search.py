"""Real searches on tiny random models, stored in SQLite under tmp_path, then resumed."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import optuna
import pytest
import torch
from transformers import TrainerCallback

from hpo.config import load_config
from hpo.errors import StorageError
from hpo.search import count_states, finished, load_search_data, run_search
from hpo.space import make_hp_space
from hpo.storage import stored_config
from hpo.training import LengthBucketSampler, build_trainer

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("arch", ["bert", "distilbert"])
def test_search_then_resume(make_config, arch: str, tmp_path: Path) -> None:
    path = make_config(arch=arch)
    config = load_config(path)
    study = run_search(config, quiet=True)
    assert finished(count_states(study)) == 2

    # Resume: the same study grows to the new total; the old trials are untouched.
    before = {t.number: (t.params, t.value) for t in study.trials}
    config = load_config(path, n_trials=3)
    study = run_search(config, quiet=True)
    stored = optuna.load_study(study_name="t", storage=config.storage_url)
    assert len(stored.trials) == 3
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in stored.trials)
    for t in stored.trials[:2]:
        assert (t.params, t.value) == before[t.number]
    assert stored.trials[2].params != stored.trials[0].params, "the resumed sampler moves on"

    # Running again with the total reached does nothing.
    assert len(run_search(config, quiet=True).trials) == 3

    for t in stored.trials:
        evals = t.user_attrs["evals"]
        # Two evaluations per epoch, on a samples-seen axis that does not depend on batch size.
        n_train = 480
        epochs = t.params["num_train_epochs"]
        assert [e["samples_seen"] for e in evals] == [
            n_train * (i + 1) // 2 for i in range(2 * epochs)
        ]
        assert sorted(t.intermediate_values) == [e["samples_seen"] for e in evals]
        # The trial's value is its best evaluation (the model it would keep), not its last.
        assert t.value == max(e["accuracy"] for e in evals)
        assert t.user_attrs["train_runtime"] > 0
        assert t.user_attrs["train_samples_per_second"] > 0
        assert 0 < t.user_attrs["tokens_real"] <= t.user_attrs["tokens_processed"]
        # Time in steps and in evaluation is part of the trial's time, never more than all of it.
        steps, evals_s = t.user_attrs["step_seconds"], t.user_attrs["eval_seconds"]
        assert steps > 0 and evals_s > 0
        assert steps + evals_s <= (t.datetime_complete - t.datetime_start).total_seconds()
        assert t.params["per_device_train_batch_size"] in (16, 32)
        assert t.user_attrs["train_attn_implementation"] in ("eager", "sdpa")
        assert t.user_attrs["eval_attn_implementation"] == "sdpa"

    # Trials write no checkpoints.
    assert not list((tmp_path / "runs").rglob("checkpoint-*"))
    assert stored_config(stored) == config.to_dict()
    assert len(stored.user_attrs["data_fingerprint"]) == 16


def test_same_seed_same_suggestions_as_plain_optuna(make_config) -> None:
    # One sampler serves the whole run, as in study.optimize: a new study seeded 42 gets what
    # any Optuna search seeded 42 over the same space gets (a per-trial sampler would not).
    path = make_config({"study": {"n_trials": 3, "sampler": {"type": "TPESampler", "seed": 42}}})
    config = load_config(path)
    ours = [t.params for t in run_search(config, quiet=True).trials]

    plain = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=42))
    hp_space = make_hp_space(config.search_space)
    expected = []
    for _ in range(3):
        trial = plain.ask()
        expected.append(hp_space(trial))
        plain.tell(trial, 0.5)
    assert ours == expected
    assert len({tuple(sorted(p.items())) for p in ours}) == 3


def test_tiny_model_learns(make_config) -> None:
    """The synthetic task is learnable, so the accuracies the search reports mean something."""
    path = make_config(
        {"study": {"n_trials": 1}, "search_space": {"num_train_epochs": {"low": 3, "high": 4}}}
    )
    study = run_search(load_config(path), quiet=True)
    assert study.best_value > 0.8


def test_reference_setup_is_trial_zero(make_config) -> None:
    path = make_config(
        {
            "study": {"n_trials": 1, "enqueue_reference": True},
            "search_space": {
                "learning_rate": {"low": 1e-5, "high": 1e-3},
                "num_train_epochs": {"low": 1, "high": 3},
            },
        }
    )
    study = run_search(load_config(path), quiet=True)
    assert study.trials[0].params == {
        "learning_rate": 2e-5,
        "per_device_train_batch_size": 16,
        "num_train_epochs": 3,
    }
    assert study.trials[0].user_attrs["reference"] is True


def test_pruner_prunes_on_samples_axis(make_config) -> None:
    path = make_config(
        {
            "study": {"n_trials": 4, "pruner": {"type": "ThresholdPruner", "lower": 0.99}},
        }
    )
    study = run_search(load_config(path), quiet=True)
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.PRUNED) == 4
    for t in study.trials:
        # Pruned at the first evaluation: half an epoch of 480 samples.
        assert list(t.intermediate_values) == [240]
        assert t.user_attrs["pruned_at_samples"] == 240


def test_last_evaluation_is_never_pruned(make_config) -> None:
    # One evaluation, at the end of training: pruning there would save nothing and throw a
    # finished trial away, so the same always-prune pruner leaves it COMPLETE.
    path = make_config(
        {
            "study": {
                "n_trials": 4,
                "sampler": {"type": "RandomSampler", "seed": 0},
                "evals_per_epoch": 1,
                "pruner": {"type": "ThresholdPruner", "lower": 0.99},
            },
            "search_space": {"num_train_epochs": {"low": 1, "high": 2}},
        }
    )
    study = run_search(load_config(path), quiet=True)
    for t in study.trials:
        epochs = t.params["num_train_epochs"]
        if epochs == 1:
            assert t.state == optuna.trial.TrialState.COMPLETE
            assert list(t.intermediate_values) == [480]
        else:  # pruned at its first evaluation, not its last
            assert t.state == optuna.trial.TrialState.PRUNED
            assert list(t.intermediate_values) == [480]
    # Both kinds ran (the seed is fixed, so this checks the test, not luck).
    assert {t.params["num_train_epochs"] for t in study.trials} == {1, 2}


def test_changed_search_space_is_refused(make_config) -> None:
    path = make_config({"study": {"n_trials": 1}})
    run_search(load_config(path), quiet=True)
    changed = load_config(path, ["search_space.learning_rate.high=0.01"])
    with pytest.raises(StorageError, match="different search space"):
        run_search(changed, quiet=True)
    # The stored study is untouched.
    study = optuna.load_study(study_name="t", storage=changed.storage_url)
    assert len(study.trials) == 1


def _search_trainer(config: Any) -> tuple[Any, Any]:
    """The trainer a search builds for ``config``, and its prepared data."""
    tokenizer, prepared = load_search_data(config)
    trainer = build_trainer(
        config,
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
    # eager attention's probabilities) with hpo.dropout; evaluation never runs in that mode.
    import hpo.dropout

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    calls: list[tuple[bool, float]] = []
    real = hpo.dropout.packed_dropout

    def spy(input: torch.Tensor, p: float = 0.5, training: bool = True, **kw: Any) -> Any:
        calls.append((training, p))
        return real(input, p, training, **kw)

    monkeypatch.setattr(hpo.dropout, "packed_dropout", spy)
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
    import hpo.training

    trims: list[int] = []
    libc = SimpleNamespace(malloc_trim=lambda pad: trims.append(pad))
    monkeypatch.setattr(hpo.training, "_libc", lambda: libc)
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
