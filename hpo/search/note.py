"""The study note that optuna-dashboard shows: progress, the best trial so far, and how to
reproduce the study. Written by the process that runs trials, after each one, from the study's
own stored config."""

from __future__ import annotations

import shlex
import warnings

import optuna
import yaml

from hpo.config.schema import METRICS
from hpo.errors import StorageError
from hpo.search.storage import DATA_IDENTITY_ATTR, stored_config
from hpo.search.trials import best_trial, peak_epoch
from hpo.train.trial_record import TrialRecord

#: Study user attr: the absolute path of the study's saved config (runs/<study>/config.yaml).
CONFIG_FILE_ATTR = "config_file"


def study_note(study: optuna.Study) -> str:
    """Markdown for the dashboard's study note: progress, best trial, how to reproduce it.

    Everything comes from the study itself (its stored config and trials), never from the
    config of the process that writes it.
    """
    stored = stored_config(study)
    model = stored.get("model", {}).get("name", "?")
    data = stored.get("data", {})
    n_trials = stored.get("study", {}).get("n_trials", "?")
    metric = objective_title(study)
    states = [t.state for t in study.get_trials(deepcopy=False)]
    counts = {s.name: states.count(s) for s in set(states)}
    progress = ", ".join(f"{n} {name.lower()}" for name, n in sorted(counts.items()))
    lines = [
        f"# {study.study_name}",
        "",
        f"Objective: validation {metric} (maximize) of `{model}` on "
        f"`{data.get('path') or data.get('dataset')}`{_classes(study)}, "
        f"{n_trials} trials in total ({progress or 'none yet'}).",
        "",
    ]
    try:
        best = best_trial(study)
    except StorageError:
        lines += ["No trial has completed yet."]
    else:
        epoch = peak_epoch(best)
        seen = [e.samples_seen for e in TrialRecord.of(best).evals if e.epoch == epoch]
        lines += [
            f"## Best trial so far: #{best.number}, validation {metric} {best.value:.4f}",
            "",
            "(The maximum over trials and their evaluations: optimistic for a retrained model.)",
            "",
            f"Peak at epoch {epoch}" + (f" ({seen[0]} samples seen)." if seen else "."),
            "",
            "```yaml",
            yaml.safe_dump(best.params, sort_keys=False).rstrip(),
            "```",
        ]
    config_file = study.user_attrs.get(CONFIG_FILE_ATTR)
    if config_file:
        lines += [
            "",
            "## Reproduce",
            "",
            "The study's resolved config, with every override and absolute paths, is saved "
            "beside its results. Running it resumes the study (finished trials are kept); "
            "`hpo run` with it also retrains, tests and reports:",
            "",
            "```bash",
            shlex.join(["hpo", "search", config_file]),
            "```",
        ]
    return "\n".join(lines) + "\n"


def objective_title(study: optuna.Study) -> str:
    """The study's metric as people read it ("macro-F1"), from its stored config."""
    metric = stored_config(study).get("study", {}).get("metric", "accuracy")
    return METRICS.get(metric, metric)


def _classes(study: optuna.Study) -> str:
    labels = (study.user_attrs.get(DATA_IDENTITY_ATTR) or {}).get("labels")
    if not labels:
        return ""
    shown = ", ".join(labels[:10]) + (", ..." if len(labels) > 10 else "")
    return f" ({len(labels)} classes: {shown})"


def update_study_note(study: optuna.Study) -> None:
    """Write :func:`study_note` as the study's note and name the objective in the dashboard.

    Only a process that runs trials calls this.
    """
    from optuna_dashboard import save_note

    with warnings.catch_warnings():
        # Marked experimental since Optuna 3.2; the dashboard reads these names.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names([f"validation {objective_title(study)}"])
    save_note(study, study_note(study))
