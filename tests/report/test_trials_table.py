"""``hpo trials``: one aligned row per trial, a pruned trial's best value in parentheses."""

from __future__ import annotations

import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from hpo.report.trials_table import trials_table


def test_rows_states_values_and_params() -> None:
    study = optuna.create_study(direction="maximize", study_name="s")
    dist = {"learning_rate": FloatDistribution(1e-5, 1e-3)}
    study.add_trial(create_trial(value=0.81234, params={"learning_rate": 1e-4}, distributions=dist))
    study.add_trial(
        create_trial(
            state=TrialState.PRUNED,
            params={"learning_rate": 2e-5},
            distributions=dist,
            intermediate_values={100: 0.6, 200: 0.65},
        )
    )
    header, complete, pruned = trials_table(study, "macro-F1").splitlines()
    assert header.split()[:3] == ["#", "state", "macro-F1"]
    assert complete.split()[:3] == ["0", "COMPLETE", "0.8123"]
    assert pruned.split()[:3] == ["1", "PRUNED", "(0.6500)"]
    assert pruned.endswith('{"learning_rate": 2e-05}')


def test_an_empty_study_says_so() -> None:
    study = optuna.create_study(study_name="empty")
    assert trials_table(study) == "study 'empty' has no trials yet."


def test_a_failed_trial_says_why() -> None:
    study = optuna.create_study(study_name="f")
    study.add_trial(
        create_trial(state=TrialState.FAIL, user_attrs={"fail_reason": "OSError: disk full"})
    )
    study.add_trial(create_trial(state=TrialState.FAIL))  # failed for its heartbeat
    study.set_user_attr("fail_reason.1", "worker lost: no heartbeat for 30 s")
    study.add_trial(create_trial(state=TrialState.FAIL))  # nothing recorded: nothing said
    _, disk, lost, silent = trials_table(study).splitlines()
    assert disk.endswith("{}  failed: OSError: disk full")
    assert lost.endswith("{}  failed: worker lost: no heartbeat for 30 s")
    assert silent.endswith("{}")


def test_a_surplus_trial_says_it_never_trained() -> None:
    study = optuna.create_study(study_name="s")
    study.add_trial(create_trial(state=TrialState.FAIL, user_attrs={"surplus": True}))
    assert trials_table(study).splitlines()[1].endswith("it never trained")
