"""Trainer callbacks of a trial: a warmup that covers the whole run is warned about."""

from __future__ import annotations

import pytest

from hpo.api import load_config
from hpo.search.loop import run_search

pytestmark = pytest.mark.slow


def test_warmup_longer_than_the_run_is_warned_about(
    make_config, caplog: pytest.LogCaptureFixture
) -> None:
    path = make_config(
        {
            "study": {"n_trials": 1},
            "search_space": {"warmup_steps": {"type": "int", "low": 500, "high": 600}},
        }
    )
    with caplog.at_level("WARNING", logger="hpo.train.callbacks"):
        run_search(load_config(path), quiet=True)
    assert any("covers the whole run" in r.getMessage() for r in caplog.records)


def test_output_that_is_no_terminal_gets_a_line_every_tenth(caplog) -> None:
    """A Slurm log or a file gets progress as lines, each step count once, not redraws."""
    from types import SimpleNamespace

    from hpo.train.callbacks import LineProgressCallback

    callback = LineProgressCallback()
    state = SimpleNamespace(global_step=0, max_steps=37, epoch=0.0)
    with caplog.at_level("INFO", logger="hpo.train.callbacks"):
        callback.on_train_begin(None, state, None)
        for step in range(1, 38):
            state.global_step, state.epoch = step, step / 37
            callback.on_step_end(None, state, None)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Training:")]
    assert len(lines) == 10, lines
    assert lines[0].startswith("Training: step 4 of 37 (11%")
    assert lines[-1].startswith("Training: step 37 of 37 (100%")


def test_a_search_logged_to_a_file_has_no_carriage_returns(make_config, capsys) -> None:
    """stderr captured here is no terminal: no bar redraws (carriage returns) reach it."""
    from hpo.cli import main

    assert main(["search", str(make_config({"study": {"n_trials": 1}}))]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err, err[:500]


def test_keep_best_puts_the_best_points_weights_back() -> None:
    import torch
    from transformers import TrainerControl, TrainerState, TrainingArguments

    from hpo.train.callbacks import KeepBestCallback

    model = torch.nn.Linear(2, 2)
    keep = KeepBestCallback(lambda metrics: metrics["eval_accuracy"])
    args, control = TrainingArguments(output_dir="unused", report_to=[]), TrainerControl()
    kept = None
    for epoch, accuracy in [(0.5, 0.6), (1.0, 0.8), (1.5, 0.7)]:
        with torch.no_grad():
            model.weight.fill_(epoch)
        state = TrainerState(epoch=epoch)
        keep.on_evaluate(args, state, control, metrics={"eval_accuracy": accuracy}, model=model)
        if epoch == 1.0:
            kept = model.weight.detach().clone()
    assert (keep.best, keep.epoch) == (0.8, 1.0)
    assert keep.history == [(0.5, 0.6), (1.0, 0.8), (1.5, 0.7)]
    assert not torch.equal(model.weight, kept)
    keep.on_train_end(args, TrainerState(epoch=1.5), control, model=model)
    assert torch.equal(model.weight, kept)


def test_stop_at_epoch_stops_at_its_deadline_and_scores_there() -> None:
    import time

    from transformers import TrainerControl, TrainerState, TrainingArguments

    from hpo.train.callbacks import StopAtEpochCallback

    args = TrainingArguments(output_dir="unused", report_to=[])
    on_time = StopAtEpochCallback(3.0, evaluate=True, stop_by=time.time() + 3600)
    control = TrainerControl()
    on_time.on_step_end(args, TrainerState(epoch=1.2), control)
    assert not control.should_training_stop and not control.should_evaluate
    late = StopAtEpochCallback(3.0, evaluate=True, stop_by=time.time() - 1)
    late.on_step_end(args, TrainerState(epoch=1.2), control)
    assert control.should_training_stop and control.should_evaluate
    # Without an evaluation split to score, it only stops.
    control = TrainerControl()
    StopAtEpochCallback(1.0).on_step_end(args, TrainerState(epoch=1.0), control)
    assert control.should_training_stop and not control.should_evaluate
