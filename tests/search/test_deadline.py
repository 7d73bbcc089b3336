"""A budgeted search keeps its deadline: a trial that would overrun stops at an evaluation with
its best value, and no trial starts that cannot finish."""

from __future__ import annotations

import time
from types import SimpleNamespace

import optuna
import pytest
from optuna.trial import TrialState

from hpo.api import load_config
from hpo.search.deadline import BUDGET_CLOSED_ATTR, fewest_epochs, out_of_time, shortest_trial
from hpo.search.loop import run_search


def _trial(wall: float, epoch: float, **attrs) -> SimpleNamespace:
    evals = [{"epoch": epoch, "samples_seen": 100, "value": 0.5}]
    return SimpleNamespace(
        number=0, user_attrs={"wall_seconds": wall, "evals": evals, **attrs}, params={}
    )


class _Study:
    def __init__(self, trials: list[SimpleNamespace]) -> None:
        self.trials, self.user_attrs = trials, {}

    def get_trials(self, deepcopy: bool = False, states: tuple = ()) -> list[SimpleNamespace]:
        return self.trials

    def set_user_attr(self, key: str, value: object) -> None:
        self.user_attrs[key] = value


def test_shortest_trial_from_the_trials_that_ran_whole() -> None:
    study = _Study([_trial(20, 2), _trial(30, 1), _trial(99, 1, cut_by_budget=10)])
    assert shortest_trial(study, 1.0) == 20.0  # median of 10 and 30 s an epoch
    assert shortest_trial(_Study([]), 1.0) is None


def test_out_of_time_closes_the_study_once() -> None:
    study = _Study([_trial(30, 1)])
    assert not out_of_time(study, time.time() + 100, 5.0, 1, fewest_epochs=1.0)
    assert out_of_time(study, time.time() + 10, 5.0, 1, fewest_epochs=1.0)
    assert study.user_attrs[BUDGET_CLOSED_ATTR] == 1
    assert out_of_time(study, time.time() + 10**6, 5.0, 1, fewest_epochs=1.0)  # stays closed
    # With no trial finished, one runs whatever the clock says: the final stage needs it.
    assert not out_of_time(_Study([]), time.time() - 10, 5.0, 0, fewest_epochs=1.0)


def test_fewest_epochs(make_config) -> None:
    config = load_config(make_config(), check_training=False)
    assert fewest_epochs(config.search_space, config.training) == 1.0
    assert fewest_epochs({}, {}) == 3.0  # Trainer's own default
    assert fewest_epochs({}, {"num_train_epochs": 2}) == 2.0


@pytest.mark.slow
def test_a_trial_that_would_overrun_stops_with_its_best_value(make_config, delete) -> None:
    # 40 epochs take minutes; the deadline is a few seconds away.
    config = load_config(
        make_config(
            {
                "study": {"n_trials": 3, "evals_per_epoch": 4},
                "search_space": {"num_train_epochs": delete},
                "training": {"num_train_epochs": 40},
            }
        )
    )
    start = time.time()
    study = run_search(config, quiet=True, deadline=start + 4.0, shortest_trial=1.0)
    took = time.time() - start
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 1, "no second trial starts with the deadline past"
    (trial,) = trials
    assert trial.state == TrialState.COMPLETE
    assert "cut_by_budget" in trial.user_attrs
    evals = trial.user_attrs["evals"]
    assert trial.value == max(e["value"] for e in evals)
    assert evals[-1]["epoch"] < 40
    assert study.user_attrs[BUDGET_CLOSED_ATTR] == 1
    assert took < 60
    stored = optuna.load_study(study_name="t", storage=config.storage_url)
    assert stored.user_attrs[BUDGET_CLOSED_ATTR] == 1


def test_a_callable_deadline_is_asked_before_each_trial(make_config) -> None:
    # A budgeted run moves the deadline with the rates the trials measure: here it is far off
    # for the first trial and has passed once one finished, so the search ends after one.
    config = load_config(make_config({"study": {"n_trials": 3}}))
    asked: list[int] = []

    def deadline(study: optuna.Study) -> float:
        asked.append(len(study.trials))
        return time.time() + (10**4 if len(asked) == 1 else -1)

    study = run_search(config, quiet=True, deadline=deadline, shortest_trial=1.0)
    assert asked[:2] == [0, 1]
    assert len(study.get_trials(deepcopy=False)) == 1
    assert study.user_attrs[BUDGET_CLOSED_ATTR] == 1
