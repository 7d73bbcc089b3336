"""Counting a study's trials: what counts toward n_trials, the best one, where it peaked."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from hpo.config.reference import DEFAULT_ATTR
from hpo.errors import StorageError
from hpo.search.trials import (
    VALIDATION_EXAMPLES_ATTR,
    SurplusTrialError,
    best_trial,
    check_not_surplus,
    count_states,
    default_within_noise,
    examples_to_resolve,
    finished,
    half_width,
    peak_epoch,
    short_params,
)


def _study(*states: TrialState) -> optuna.Study:
    study = optuna.create_study(direction="maximize")
    dist = {"learning_rate": FloatDistribution(1e-5, 1e-3)}
    for i, state in enumerate(states):
        done = state in (TrialState.COMPLETE,)
        study.add_trial(
            create_trial(
                state=state,
                value=0.5 + i / 100 if done else None,
                params={"learning_rate": 1e-4},
                distributions=dist,
            )
        )
    return study


def test_complete_and_pruned_count_failed_do_not() -> None:
    study = _study(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.COMPLETE)
    counts = count_states(study)
    assert finished(counts) == 3 and counts[TrialState.FAIL] == 1


def test_peak_epoch_is_the_earliest_of_equal_bests() -> None:
    evals = [
        {"epoch": 0.5, "value": 0.8},
        {"epoch": 1.0, "value": 0.9},
        {"epoch": 1.5, "value": 0.9},
    ]
    trial = create_trial(value=0.9, user_attrs={"evals": evals})
    assert peak_epoch(trial) == 1.0
    # Evaluations recorded before study.metric existed carry "accuracy".
    old = create_trial(value=0.7, user_attrs={"evals": [{"epoch": 2.0, "accuracy": 0.7}]})
    assert peak_epoch(old) == 2.0
    assert peak_epoch(create_trial(value=0.7, params={}, distributions={})) == 1.0


def test_best_trial_without_a_completed_one_is_a_clear_error() -> None:
    with pytest.raises(StorageError, match="has no completed trial"):
        best_trial(_study(TrialState.PRUNED))
    assert best_trial(_study(TrialState.COMPLETE, TrialState.COMPLETE)).number == 1


def test_short_params_round_floats_only() -> None:
    assert short_params({"lr": 0.000123456, "batch": 16}) == {"lr": 0.0001235, "batch": 16}


def test_a_trial_after_n_trials_is_surplus() -> None:
    study = optuna.create_study(direction="maximize")
    first, second = study.ask(), study.ask()
    check_not_surplus(first, max_trials=1)
    with pytest.raises(SurplusTrialError, match="trial 1 is surplus"):
        check_not_surplus(second, max_trials=1)
    assert second.user_attrs["surplus"] is True


def _scored(default: float, others: list[float], n: int | None) -> optuna.Study:
    study = optuna.create_study(direction="maximize")
    dist = {"learning_rate": FloatDistribution(1e-5, 1e-3)}
    for i, value in enumerate([default, *others]):
        attrs = {DEFAULT_ATTR: True} if i == 0 else {}
        params = {"learning_rate": 5e-5 if i == 0 else 1e-4 * (i + 1)}
        trial = create_trial(value=value, params=params, distributions=dist, user_attrs=attrs)
        study.add_trial(trial)
    if n is not None:
        study.set_user_attr(VALIDATION_EXAMPLES_ATTR, n)
    return study


def test_the_default_is_kept_where_the_best_leads_it_only_by_noise() -> None:
    # 0.9 points on 1,000 examples at 0.75: the interval of the difference is ±3.8 points.
    kept = default_within_noise(_scored(0.742, [0.725, 0.751], 1000))
    assert kept is not None and kept[0].number == 0
    assert "trial 2's lead" in kept[1] and "0.9 points" in kept[1] and "±3.8" in kept[1]
    # The same lead on 100,000 examples is beyond the noise (±0.4): the best is trained.
    assert default_within_noise(_scored(0.742, [0.725, 0.751], 100_000)) is None
    # The default is the best; no validation count stored (an older study): nothing to keep.
    assert default_within_noise(_scored(0.76, [0.725, 0.751], 1000)) is None
    assert default_within_noise(_scored(0.742, [0.725, 0.751], None)) is None


@pytest.mark.parametrize("lead", [0.01, 0.02, 0.05])
@pytest.mark.parametrize("p", [0.5, 0.8, 0.95])
def test_examples_to_resolve_is_the_fewest_whose_noise_a_lead_exceeds(
    lead: float, p: float
) -> None:
    """The planner's count and the final choice's noise are one rule: on that many examples a
    lead of ``lead`` is no narrower than the difference's interval; on one fewer it is."""
    n = examples_to_resolve(lead, p)
    assert half_width(p, n, difference=True) <= lead + 1e-12
    assert half_width(p, n - 1, difference=True) > lead
