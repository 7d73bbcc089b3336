"""A trial's typed record reads what the trainer wrote, and what older hpo versions stored."""

from __future__ import annotations

import math

import optuna
import pytest

from hpo.train.trial_record import (
    CUT_BY_BUDGET_ATTR,
    EVALS_ATTR,
    FAIL_REASON_ATTR,
    REFERENCE_ATTR,
    SURPLUS_ATTR,
    Evaluation,
    Measurements,
    TrialRecord,
)

MEASURED = Measurements(
    samples_trained=400,
    samples_scored=200,
    train_runtime=9.0,
    train_samples_per_second=44.4,
    tokens_processed=1000,
    tokens_real=800,
    padding_efficiency=0.8,
    step_seconds=8.0,
    eval_seconds=1.0,
    wall_seconds=10.0,
    rss_mb=500.0,
    peak_rss_mb=600.0,
    train_attn_implementation="sdpa",
    eval_attn_implementation="sdpa",
    dropout_masks=None,
)


def test_the_record_reads_what_the_writers_stored() -> None:
    study = optuna.create_study(direction="maximize")
    trial = study.ask()
    trial.set_user_attr(
        EVALS_ATTR,
        [
            {"epoch": 1.0, "samples_seen": 100, "value": 0.7, "accuracy": 0.7, "loss": 0.5},
            {"epoch": 2.0, "samples_seen": 200, "value": 0.8, "accuracy": 0.8, "loss": 0.4},
            {"epoch": 3.0, "samples_seen": 300, "value": 0.8, "accuracy": 0.8, "loss": 0.45},
        ],
    )
    trial.set_user_attr(CUT_BY_BUDGET_ATTR, 300)
    trial.set_user_attr(REFERENCE_ATTR, True)
    MEASURED.write(trial)
    study.tell(trial, 0.8)
    record = TrialRecord.of(study.trials[0])
    assert record.peak() == Evaluation(2.0, 200, 0.8, 0.8, 0.4)  # the earliest of equal bests
    assert record.peak_epoch() == 2.0
    assert record.cut_by_budget == 300 and record.reference and not record.surplus
    assert record.seconds_per_example() == (8.0 / 400, 1.0 / 200)
    assert record.measured["wall_seconds"] == 10.0


@pytest.mark.parametrize(
    ("attrs", "peak_epoch", "rates"),
    [
        # Evaluations recorded before study.metric existed carry only "accuracy".
        (
            {EVALS_ATTR: [{"epoch": 1.0, "accuracy": 0.9}, {"epoch": 2.0, "accuracy": 0.6}]},
            1.0,
            (None, None),
        ),
        # A trial that failed before its first evaluation, with its reason.
        ({FAIL_REASON_ATTR: "RuntimeError: boom"}, 3.0, (None, None)),
        ({SURPLUS_ATTR: True}, 3.0, (None, None)),
    ],
)
def test_old_and_partial_trials_still_read(attrs: dict, peak_epoch: float, rates: tuple) -> None:
    study = optuna.create_study(direction="maximize")
    trial = study.ask()
    trial.suggest_int("num_train_epochs", 3, 3)
    for key, value in attrs.items():
        trial.set_user_attr(key, value)
    study.tell(trial, 0.5)
    record = TrialRecord.of(study.trials[0])
    assert record.peak_epoch() == peak_epoch
    assert record.seconds_per_example() == rates
    assert record.fail_reason == attrs.get(FAIL_REASON_ATTR)
    assert record.surplus is bool(attrs.get(SURPLUS_ATTR))
    if record.evals:
        assert math.isnan(record.evals[0].loss)  # not recorded then
