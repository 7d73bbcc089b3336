"""A trial that runs out of memory is retried once at half the batch, the effective batch kept,
and the study goes on."""

from __future__ import annotations

from types import SimpleNamespace

import optuna
import pytest
import torch

from hpo.api import load_config
from hpo.config.space import ParamSpec
from hpo.search.loop import run_search
from hpo.train.settings import halving_batch
from hpo.train.trainer import HpoTrainer
from hpo.train.trial_record import TrialRecord


@pytest.mark.parametrize(
    ("space", "training", "suggested", "expected"),
    [
        # Searched batch: half of what the trial suggested, twice the accumulation.
        (
            {"per_device_train_batch_size": ParamSpec("categorical", choices=[16, 32])},
            {},
            {"per_device_train_batch_size": 32},
            (16, 2),
        ),
        # Fixed in training, with accumulation of its own.
        ({}, {"per_device_train_batch_size": 32, "gradient_accumulation_steps": 3}, {}, (16, 6)),
        # Trainer's default batch.
        ({}, {}, {}, (4, 2)),
    ],
)
def test_a_retry_halves_the_batch_and_keeps_the_effective_batch(
    space: dict, training: dict, suggested: dict, expected: tuple[int, int]
) -> None:
    hp_space = halving_batch(lambda trial: dict(suggested), space, training)
    retry = SimpleNamespace(user_attrs={"batch_divisor": 2})
    values = hp_space(retry)
    assert (values["per_device_train_batch_size"], values["gradient_accumulation_steps"]) == (
        expected
    )
    assert hp_space(SimpleNamespace(user_attrs={})) == suggested  # a trial like any other


@pytest.mark.slow
def test_out_of_memory_is_retried_once_and_the_study_goes_on(
    make_config, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first trial's first step raises the out-of-memory error a GPU would."""
    real = HpoTrainer.training_step
    raised = []

    def step(self, *args, **kwargs):
        if not raised:
            raised.append(True)
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(HpoTrainer, "training_step", step)
    config = load_config(make_config({"study": {"n_trials": 2}}))
    study = run_search(config, quiet=True)
    trials = study.get_trials(deepcopy=False)
    first, retry = TrialRecord.of(trials[0]), TrialRecord.of(trials[1])
    assert trials[0].state == optuna.trial.TrialState.FAIL
    assert first.out_of_memory and first.fail_reason.startswith("OutOfMemoryError: CUDA out")
    assert trials[1].state == optuna.trial.TrialState.COMPLETE
    assert retry.params == first.params and retry.retry_of == 0 and retry.batch_divisor == 2
    batch = first.params["per_device_train_batch_size"]
    assert retry.measured["per_device_train_batch_size"] == batch // 2
    assert retry.measured["gradient_accumulation_steps"] == 2
    assert retry.measured["peak_device_mb"] is None  # no accelerator here
    finished = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(finished) == 2  # the study reached its trials


@pytest.mark.parametrize(("divisor", "again"), [(None, True), (2, False)])
def test_only_a_first_out_of_memory_is_retried(divisor: int | None, again: bool) -> None:
    from hpo.search.retry import retry_out_of_memory

    study = optuna.create_study()
    trial = study.ask()
    trial.suggest_int("per_device_train_batch_size", 8, 64)
    trial.set_user_attr("out_of_memory", True)
    if divisor:
        trial.set_user_attr("batch_divisor", divisor)
    study.tell(trial, state=optuna.trial.TrialState.FAIL)
    assert retry_out_of_memory(study, 0) is again
    waiting = study.get_trials(states=(optuna.trial.TrialState.WAITING,))
    assert len(waiting) == (1 if again else 0)
    if again:
        assert waiting[0].user_attrs == {"batch_divisor": 2, "retry_of": 0}


def test_the_final_stage_trains_a_retried_best_trial_at_its_batch() -> None:
    """A best trial that was an out-of-memory retry is retrained at its halved batch: the plan
    carries the divisor and the replay applies it."""
    from hpo.final.retrain import plan_from_study
    from hpo.train.trainer import replay

    study = optuna.create_study(direction="maximize")
    trial = study.ask()
    trial.suggest_categorical("per_device_train_batch_size", [16, 32])
    trial.set_user_attr("batch_divisor", 2)
    trial.set_user_attr("evals", [{"epoch": 1.0, "samples_seen": 100, "value": 0.9}])
    study.tell(trial, 0.9)
    plan = plan_from_study(study, evals_per_epoch=1)
    assert plan.batch_divisor == 2
    space = {"per_device_train_batch_size": ParamSpec("categorical", choices=[16, 32])}
    trainer = SimpleNamespace()
    fixed = replay(trainer, space, plan.params, batch_divisor=plan.batch_divisor, training={})
    values = trainer.hp_space(fixed)
    expected = plan.params["per_device_train_batch_size"] // 2
    assert values["per_device_train_batch_size"] == expected
    assert values["gradient_accumulation_steps"] == 2
    plain = replay(trainer, space, plan.params, training={})
    assert trainer.hp_space(plain) == plan.params  # a trial that never ran out of memory
