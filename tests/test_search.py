"""Real searches on tiny random models, stored in SQLite under tmp_path, then resumed."""

from __future__ import annotations

import gc
import re
import weakref
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import optuna
import pytest
import torch
from transformers import TrainerCallback

from hpo.errors import StorageError
from hpo.load import load_config
from hpo.sampler import LengthBucketSampler
from hpo.search import count_states, finished, load_search_data, run_search
from hpo.space import make_hp_space
from hpo.storage import stored_config
from hpo.training import build_trainer

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


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("data.max_train_samples=300", "data.max_train_samples None -> 300"),
        ("data.max_eval_samples=50", "data.max_eval_samples None -> 50"),
        ("data.validation_fraction=0.3", "data.validation_fraction 0.2 -> 0.3"),
        ("data.split_seed=7", "data.split_seed 42 -> 7"),
        ("data.max_length=32", "data.max_length 48 -> 32"),
    ],
)
def test_changed_data_is_refused_on_resume(make_config, override: str, key: str) -> None:
    """Trials scored on different validation sets must not be mixed in one study."""
    path = make_config({"study": {"n_trials": 1}})
    run_search(load_config(path), quiet=True)
    changed = load_config(path, [override, "study.n_trials=2"])
    with pytest.raises(StorageError, match="was searched on other data") as info:
        run_search(changed, quiet=True)
    assert key in str(info.value)
    study = optuna.load_study(study_name="t", storage=changed.storage_url)
    assert len(study.trials) == 1
    assert study.user_attrs["config.study"]["n_trials"] == 1, "nothing was written"


def test_changed_data_files_are_refused_on_resume(make_config, tiny_data, tmp_path: Path) -> None:
    import shutil

    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    path = make_config({"study": {"n_trials": 1}, "data": {"path": str(data)}})
    run_search(load_config(path), quiet=True)
    with (data / "train.jsonl").open("a") as fh:
        fh.write('{"text": "one more review", "label": 1}\n')
    with pytest.raises(StorageError, match="data fingerprint"):
        run_search(load_config(path, ["study.n_trials=2"]), quiet=True)


def test_one_log_line_per_trial_start_prune_and_finish(make_config, tmp_path: Path) -> None:
    """What a user reads in the terminal, from the CLI in its own process."""
    import subprocess
    import sys

    path = make_config(
        {
            "study": {"n_trials": 4, "pruner": {"type": "ThresholdPruner", "lower": 0.99}},
            "search_space": {"num_train_epochs": {"low": 1, "high": 2}},
        }
    )
    proc = subprocess.run(
        [sys.executable, "-m", "hpo.cli", "search", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    # Progress bars redraw with carriage returns; log records start after them.
    log = re.findall(r"\[(?:INFO|WARNING|ERROR) [\w.]+\] [^\n\r]*", proc.stderr)
    study = optuna.load_study(study_name="t", storage=load_config(path).storage_url)
    states = {t.number: t.state for t in study.trials}
    assert len(states) == 4
    for number, state in states.items():
        started = [x for x in log if f"Trial {number} started" in x]
        ended = [x for x in log if f"Trial {number} pruned" in x or f"Trial {number} finished" in x]
        assert len(started) == 1 and len(ended) == 1, (number, log)
        assert ("pruned" in ended[0]) == (state == optuna.trial.TrialState.PRUNED)
    everything = proc.stderr + proc.stdout
    for noise in ("Using an existing study", "LOAD REPORT", "not sharded", "{'loss'", "'eval_"):
        assert noise not in everything, noise
    assert sum("Loaded " in x for x in log) == 1, "the model's new weights are named once"


def test_trials_bar_counts_only_new_trials(make_config) -> None:
    from hpo.search import _TrialProgress

    progress = _TrialProgress(10, 8, enabled=True)
    assert progress.bar.n == 8 and progress.bar.format_dict["initial"] == 8
    study = optuna.create_study(direction="maximize")
    progress.update(9, study)
    assert progress.bar.n == 9
    # tqdm's rate is (n - initial) / elapsed: one trial, not nine.
    fmt = progress.bar.format_dict
    assert fmt["n"] - fmt["initial"] == 1
    progress.close()


def test_reference_warmup_is_a_share_of_the_run(make_config) -> None:
    from hpo.config import REFERENCE_WARMUP_SHARE, ParamSpec
    from hpo.space import resolve_reference

    reference = {"learning_rate": 2e-5, "per_device_train_batch_size": 16, "warmup_steps": "auto"}
    space = {"warmup_steps": ParamSpec("int", 0, 200, step=20)}
    # 100 steps of the original 4,221-step run: the original setup gets its 100 back.
    assert resolve_reference(
        {"warmup_steps": ParamSpec("int", 0, 500)},
        {**reference, "num_train_epochs": 3},
        {},
        n_train=22_500,
    ) == {"warmup_steps": 100}
    # 2,000 reviews, batch 16, 1 epoch: 125 steps, 3 warmup steps, on the space's grid of 20.
    assert round(REFERENCE_WARMUP_SHARE * 125) == 3
    assert resolve_reference(space, reference, {"num_train_epochs": 1}, n_train=2000) == {
        "warmup_steps": 0
    }
    # A 25-step run never gets a warmup longer than itself.
    assert resolve_reference(
        {"warmup_steps": ParamSpec("int", 0, 200)}, reference, {"num_train_epochs": 1}, n_train=400
    ) == {"warmup_steps": 1}
    # A number the user wrote is used as written.
    assert resolve_reference(space, {"warmup_steps": 40}, {}, n_train=400) == {"warmup_steps": 40}
    # Warmup searched as a share of the run (a float below 1): the reference's share, whatever
    # the run's length, on the space's grid.
    share = {"warmup_steps": ParamSpec("float", 0.0, 0.2)}
    for n_train in (400, 2000, 22_500):
        assert resolve_reference(share, reference, {"num_train_epochs": 1}, n_train=n_train) == {
            "warmup_steps": REFERENCE_WARMUP_SHARE
        }
    coarse = {"warmup_steps": ParamSpec("float", 0.0, 0.2, step=0.05)}
    assert resolve_reference(coarse, reference, {}, n_train=2000) == {"warmup_steps": 0.0}


def test_warmup_longer_than_the_run_is_warned_about(
    make_config, caplog: pytest.LogCaptureFixture
) -> None:
    path = make_config(
        {
            "study": {"n_trials": 1},
            "search_space": {"warmup_steps": {"type": "int", "low": 500, "high": 600}},
        }
    )
    with caplog.at_level("WARNING", logger="hpo.callbacks"):
        run_search(load_config(path), quiet=True)
    assert any("covers the whole run" in r.getMessage() for r in caplog.records)


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
