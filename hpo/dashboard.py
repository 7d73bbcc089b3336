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

if TYPE_CHECKING:
    from optuna.artifacts import FileSystemArtifactStore

    from hpo.config import HpoConfig

logger = logging.getLogger(__name__)

#: Study user attr that maps attached file names to their content hash (attach once per content).
ARTIFACTS_ATTR = "hpo_artifacts"


def artifact_store(config: HpoConfig) -> FileSystemArtifactStore:
    """The study's artifact store: files under ``<output_dir>/artifacts`` (runs/<study>/...)."""
    from optuna.artifacts import FileSystemArtifactStore

    root = config.output_dir / "artifacts"
    root.mkdir(parents=True, exist_ok=True)
    return FileSystemArtifactStore(str(root))


def study_note(study: optuna.Study, config: HpoConfig) -> str:
    """Markdown for the dashboard's study note: progress, best trial, how to reproduce it."""
    states = [t.state for t in study.get_trials(deepcopy=False)]
    counts = {s.name: states.count(s) for s in set(states)}
    progress = ", ".join(f"{n} {name.lower()}" for name, n in sorted(counts.items()))
    command = [
        "hpo",
        "search",
        config.source,
        "--study-name",
        config.study.name,
        "--storage",
        config.storage_url,
    ]
    lines = [
        f"# {config.study.name}",
        "",
        f"Objective: validation accuracy (maximize) of `{config.model.name}` on "
        f"`{config.data.path or config.data.dataset}`, "
        f"{config.study.n_trials} trials in total ({progress or 'none yet'}).",
        "",
    ]
    try:
        best = study.best_trial
    except ValueError:
        lines += ["No trial has completed yet."]
    else:
        evals = best.user_attrs.get("evals", [])
        peak = max(evals, key=lambda e: e["accuracy"], default=None)
        lines += [
            f"## Best trial so far: #{best.number}, accuracy {best.value:.4f}",
            "",
            f"Peak at epoch {peak['epoch']} ({peak['samples_seen']} samples seen)." if peak else "",
            "",
            "```yaml",
            yaml.safe_dump(best.params, sort_keys=False).rstrip(),
            "```",
        ]
    lines += [
        "",
        "## Reproduce",
        "",
        "Re-running this resumes the study (finished trials are kept):",
        "",
        "```bash",
        shlex.join(command),
        "```",
    ]
    return "\n".join(lines) + "\n"


def update_study_note(study: optuna.Study, config: HpoConfig) -> None:
    """Write :func:`study_note` as the study's note and name the objective in the dashboard."""
    from optuna_dashboard import save_note

    with warnings.catch_warnings():
        # Marked experimental since Optuna 3.2; the dashboard reads these names.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(["validation accuracy"])
    save_note(study, study_note(study, config))


def attach_artifacts(study: optuna.Study, config: HpoConfig, paths: Iterable[Path]) -> list[str]:
    """Upload files to the study's artifact store, each content once; returns the new ids.

    Missing files are skipped, so callers can pass every file a stage might have produced.
    """
    from optuna.artifacts import upload_artifact

    store = artifact_store(config)
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
    out = config.output_dir
    candidates = [out / "best_params.yaml", out / "final" / "metrics.json", out / "report.md"]
    candidates += sorted(out.glob("*.png"))
    return [p for p in candidates if p.is_file()]


def serve(config: HpoConfig, *, host: str, port: int) -> None:
    """Run optuna-dashboard on the study's storage and artifact store (blocks)."""
    from optuna_dashboard import run_server

    from hpo.storage import make_storage

    # Same engine settings as the search (WAL, busy timeout): reading while trials are written
    # waits for the lock instead of failing with "database is locked".
    run_server(
        make_storage(config.storage_url),
        host=host,
        port=port,
        artifact_store=artifact_store(config),
    )
