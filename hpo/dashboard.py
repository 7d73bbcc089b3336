"""What optuna-dashboard shows for a study: a markdown note, artifacts, and the server itself.

The study's user attrs already hold the resolved config and the data fingerprint, and each
trial's user attrs its evaluations, runtime and throughput (see :mod:`hpo.training`); the trial
intermediate values give the learning curves. This module adds the study note (best trial so far
and how to reproduce it) and attaches files through Optuna's artifact store.
"""

from __future__ import annotations

import hashlib
import logging
import shlex
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import optuna
import yaml

from hpo.config import METRICS
from hpo.errors import StorageError
from hpo.layout import RunLayout
from hpo.storage import DATA_IDENTITY_ATTR, make_storage, stored_config
from hpo.trials import best_trial, peak_epoch

if TYPE_CHECKING:
    from optuna.artifacts import FileSystemArtifactStore

    from hpo.config import HpoConfig

logger = logging.getLogger(__name__)

#: Study user attr that maps attached file names to their content hash (attach once per content).
ARTIFACTS_ATTR = "hpo_artifacts"
#: Study user attr: the absolute path of the study's saved config (runs/<study>/config.yaml).
CONFIG_FILE_ATTR = "config_file"


def artifact_store(config: HpoConfig, *, create: bool = False) -> FileSystemArtifactStore:
    """The study's artifact store: files under ``runs/<study>/artifacts``.

    The folder is made only with ``create`` (an upload), so serving a study creates nothing.
    """
    from optuna.artifacts import FileSystemArtifactStore

    root = RunLayout.of(config).artifacts
    if create:
        root.mkdir(parents=True, exist_ok=True)
    return FileSystemArtifactStore(str(root))


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
        seen = [e["samples_seen"] for e in best.user_attrs.get("evals", []) if e["epoch"] == epoch]
        lines += [
            f"## Best trial so far: #{best.number}, {metric} {best.value:.4f}",
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


def attach_artifacts(study: optuna.Study, config: HpoConfig, paths: Iterable[Path]) -> list[str]:
    """Upload files to the study's artifact store, each content once; returns the new ids.

    Missing files are skipped, so callers can pass every file a stage might have produced.
    """
    from optuna.artifacts import upload_artifact

    paths = [Path(p) for p in paths if Path(p).is_file()]
    if not paths:
        return []
    store = artifact_store(config, create=True)
    seen = dict(study.user_attrs.get(ARTIFACTS_ATTR, {}))
    new_ids = []
    for path in paths:
        path = Path(path)
        if not path.is_file():
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        if seen.get(path.name) == digest:
            continue
        new_ids.append(
            upload_artifact(artifact_store=store, file_path=str(path), study_or_trial=study)
        )
        seen[path.name] = digest
        logger.info("Attached %s to study %r", path, study.study_name)
    if new_ids:
        study.set_user_attr(ARTIFACTS_ATTR, seen)
    return new_ids


def final_stage_files(config: HpoConfig) -> list[Path]:
    """Files of the final stage worth showing in the dashboard, those that exist now."""
    layout = RunLayout.of(config)
    candidates = [layout.best_params, layout.final / "metrics.json", layout.report]
    candidates += sorted(layout.root.glob("*.png"))
    return [p for p in candidates if p.is_file()]


def serve(config: HpoConfig, *, host: str, port: int) -> None:
    """Run optuna-dashboard on the study's storage and artifact store (blocks)."""
    from optuna_dashboard import run_server

    # Same engine settings as the search (WAL, busy timeout): reading while trials are written
    # waits for the lock instead of failing with "database is locked".
    run_server(
        make_storage(config.storage_url),
        host=host,
        port=port,
        artifact_store=artifact_store(config),
    )
