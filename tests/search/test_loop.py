"""Real searches on tiny random models, stored in SQLite under tmp_path, then resumed."""

from __future__ import annotations

import re
from pathlib import Path

import optuna
import pytest

from hpo.api import load_config
from hpo.config.space import make_hp_space
from hpo.search.loop import count_states, finished, run_search
from hpo.search.storage import stored_config

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


def test_the_strong_default_is_trial_zero_and_the_reference_trial_one(make_config) -> None:
    path = make_config(
        {
            "study": {"n_trials": 2, "enqueue_reference": True},
            "search_space": {
                "learning_rate": {"low": 1e-5, "high": 1e-3},
                "num_train_epochs": {"low": 1, "high": 3},
            },
        }
    )
    study = run_search(load_config(path), quiet=True)
    default, reference = study.trials[0], study.trials[1]
    # The strong default's searched keys; its epochs are the sampler's (the recipe has none).
    assert {k: v for k, v in default.params.items() if k != "num_train_epochs"} == {
        "learning_rate": 5e-5,
        "per_device_train_batch_size": 32,
    }
    assert default.user_attrs["strong_default"] is True
    assert "reference" not in default.user_attrs
    assert reference.params == {
        "learning_rate": 2e-5,
        "per_device_train_batch_size": 16,
        "num_train_epochs": 3,
    }
    assert reference.user_attrs["reference"] is True


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
    from hpo.search.loop import _TrialProgress

    progress = _TrialProgress(10, 8, enabled=True)
    assert progress.bar.n == 8 and progress.bar.format_dict["initial"] == 8
    study = optuna.create_study(direction="maximize")
    progress.update(9, study)
    assert progress.bar.n == 9
    # tqdm's rate is (n - initial) / elapsed: one trial, not nine.
    fmt = progress.bar.format_dict
    assert fmt["n"] - fmt["initial"] == 1
    progress.close()
