"""The final stage fitted to its deadline by its timed steps: the schedule moved, the stop
moved, on the grid of twentieths."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
import torch
from transformers import TrainingArguments, get_scheduler

from hpo.train.refit import DeadlineFitCallback, schedule_refits, set_schedule


def _running(total: int, steps: int, **kwargs):
    """A linear schedule over ``total`` steps on an optimizer at learning rate 1, ``steps`` in."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = get_scheduler("linear", optimizer, num_warmup_steps=0, num_training_steps=total)
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
    return optimizer, scheduler


def _args(tmp_path, **kwargs) -> TrainingArguments:
    return TrainingArguments(output_dir=str(tmp_path), report_to=[], **kwargs)


def test_which_schedules_can_be_moved() -> None:
    assert schedule_refits("linear", None, -1)
    assert schedule_refits("cosine", None, -1)
    assert not schedule_refits("linear", None, 500)  # counted in steps: nothing to fit
    assert not schedule_refits("reduce_lr_on_plateau", None, -1)  # no multiplier to move


def test_a_running_schedule_moved_to_another_end(tmp_path) -> None:
    """Torch's LambdaLR keeps its multipliers in ``lr_lambdas``: if a release moves them, this
    fails here first."""
    optimizer, scheduler = _running(100, 50)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.5)
    assert set_schedule(scheduler, _args(tmp_path, warmup_steps=0), 200)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.75)  # 150 of 200 steps left
    for _ in range(150):
        optimizer.step()
        scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.0)
    # Not a multiplier schedule: left as it was.
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer)
    assert not set_schedule(plateau, _args(tmp_path), 200)


def _fit_case(tmp_path, left: float, planned: float = 3.0):
    """Planned ``planned`` epochs of 100 steps, the loop's ceiling 10; fitted a quarter epoch
    in at 0.1 s a step and 1 s a validation scoring, ``left`` seconds before the deadline."""
    stop = SimpleNamespace(epoch=planned)
    fit = DeadlineFitCallback(
        stop,
        planned=planned,
        most=10.0,
        deadline=time.time() + left,
        eval_seconds=1.0,
        evals_per_epoch=2,
    )
    args = _args(tmp_path, num_train_epochs=10, warmup_steps=0)
    optimizer, scheduler = _running(1000, 0)
    fit.on_train_begin(args, SimpleNamespace(max_steps=1000), None, lr_scheduler=scheduler)
    assert fit.steps_per_epoch == 100
    assert fit.fit_at == 5 + 20  # 5% of 300 planned steps is 15: the 20 timed at least
    for _ in range(25):
        optimizer.step()
        scheduler.step()
    epochs = fit._fit(args, SimpleNamespace(epoch=0.25, global_step=25), 0.1, scheduler)
    return epochs, stop, optimizer


def test_the_stop_and_the_schedule_fit_the_deadline(tmp_path) -> None:
    # 64.8 s left: 5.5 epochs (52.5 s of steps, 11 validation points and the stop's, 12 s)
    # fit; 5.55 would need 65.0.
    epochs, stop, optimizer = _fit_case(tmp_path, left=64.8)
    assert epochs == stop.epoch == 5.5
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1 - 25 / 550)
    # A slower machine than planned: fewer epochs, the learning rate ending there.
    epochs, stop, optimizer = _fit_case(tmp_path, left=20.0)
    assert epochs == stop.epoch < 3.0
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1 - 25 / (epochs * 100))
    # Within 3% of the plan: the plan stands (its schedule set at the start).
    epochs, stop, optimizer = _fit_case(tmp_path, left=35.2)  # 3.05 fits
    assert epochs == stop.epoch == 3.0
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1 - 25 / 300)
    # Never past the loop's ceiling.
    epochs, _, _ = _fit_case(tmp_path, left=10_000.0)
    assert epochs == 10.0


def _paced_run(tmp_path, monkeypatch, later_pace: float):
    """Planned 3 epochs of 100 steps (ceiling 10, two validation points an epoch, 1 s each), 35 s
    before the deadline at the first fit: steps 1-25 at 0.1 s (the first fit keeps 3 epochs,
    3.05 fitting within its 3%), steps 26-50 at ``later_pace``, then half an epoch's validation
    point, 1 s."""
    from hpo.train import refit

    clock = [1000.0]
    monkeypatch.setattr(refit.time, "perf_counter", lambda: clock[0])
    monkeypatch.setattr(refit.time, "time", lambda: clock[0])
    stop = SimpleNamespace(epoch=3.0)
    args = _args(tmp_path, num_train_epochs=10, warmup_steps=0)
    optimizer, scheduler = _running(1000, 0)
    go = SimpleNamespace(should_training_stop=False)
    fit = None
    for step in range(1, 51):
        clock[0] += 0.1 if step <= 25 else later_pace
        optimizer.step()
        scheduler.step()
        if fit is None:  # the deadline 35 s after step 25, whose time is known only here
            fit = DeadlineFitCallback(
                stop,
                planned=3.0,
                most=10.0,
                deadline=clock[0] + 35.0 + 24 * 0.1,
                eval_seconds=1.0,
                evals_per_epoch=2,
            )
            fit.on_train_begin(args, SimpleNamespace(max_steps=1000), go, lr_scheduler=scheduler)
        state = SimpleNamespace(global_step=step, epoch=step / 100)
        fit.on_step_end(args, state, go, lr_scheduler=scheduler)
        if step == 25:
            assert fit.fitted == stop.epoch == 3.0
    clock[0] += 1.0
    fit.on_evaluate(args, SimpleNamespace(global_step=50, epoch=0.5), go, lr_scheduler=scheduler)
    return fit, stop, optimizer, scheduler


def test_a_later_validation_point_fits_the_stop_again_on_the_pace_since(
    tmp_path, monkeypatch
) -> None:
    # Slower after the first fit (0.3 s a step): 9.5 s over 45 timed steps, 26.5 s left at
    # epoch 0.5: 1.6 epochs fit (26.2 s), 1.65 would need 27.3; the schedule now ends there.
    fit, stop, optimizer, _ = _paced_run(tmp_path, monkeypatch, later_pace=0.3)
    assert fit.fitted == stop.epoch == 1.6
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1 - 50 / 160)
    # Faster (0.05 s a step): 3.95 fit (31.9 s of 32.75 left), more than 3% past 3.
    fit, stop, optimizer, _ = _paced_run(tmp_path, monkeypatch, later_pace=0.05)
    assert fit.fitted == stop.epoch == 3.95
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1 - 50 / 395)


def test_the_stops_own_validation_point_fits_nothing(tmp_path, monkeypatch) -> None:
    from hpo.train import refit

    fit, stop, optimizer, scheduler = _paced_run(tmp_path, monkeypatch, later_pace=0.1)
    assert stop.epoch == 3.0  # the same pace: the stop still fits
    monkeypatch.setattr(refit.time, "time", lambda: fit.deadline + 100.0)  # far too late now
    ending = SimpleNamespace(should_training_stop=True)
    state = SimpleNamespace(global_step=50, epoch=0.5)
    fit.on_evaluate(_args(tmp_path), state, ending, lr_scheduler=scheduler)
    assert stop.epoch == 3.0
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1 - 50 / 300)


def test_under_one_planned_epoch_the_fit_takes_hundredths(tmp_path) -> None:
    """A part of an epoch planned (a large training set): a twentieth of it would leave minutes
    unspent, so the stop is fitted in hundredths."""
    from hpo.train.refit import fit_grid

    assert fit_grid(3.0) == fit_grid(1.0) == 20 and fit_grid(0.35) == 100
    stop = SimpleNamespace(epoch=0.3)
    fit = DeadlineFitCallback(
        stop,
        planned=0.3,
        most=10.0,
        deadline=time.time() + 8.5,
        eval_seconds=1.0,
        evals_per_epoch=2,
    )
    args = _args(tmp_path, num_train_epochs=10, warmup_steps=0)
    optimizer, scheduler = _running(10_000, 25)
    fit.on_train_begin(args, SimpleNamespace(max_steps=10_000), None, lr_scheduler=scheduler)
    assert fit.grid == 100 and fit.steps_per_epoch == 1000
    # Fitted 25 steps in at 0.01 s a step, 1 s a validation scoring, 8.5 s left: 0.67 epochs
    # (6.45 s of steps, the point at 0.5 and the stop's, 8.45 s) fit, 0.68 would need 8.55; on
    # twentieths the stop would have been 0.65.
    epochs = fit._fit(args, SimpleNamespace(epoch=0.025, global_step=25), 0.01, scheduler)
    assert epochs == stop.epoch == 0.67
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1 - 25 / 670)
