"""optuna-dashboard for a study: the final stage's files attached through Optuna's artifact
store, and the server itself.

The study's user attrs already hold the resolved config and the data fingerprint, each trial's
user attrs its evaluations, runtime and throughput (see :mod:`hpo.train.trainer`), the trial
intermediate values the learning curves, and the study note its progress
(:mod:`hpo.search.note`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import optuna

from hpo.runs import RunLayout
from hpo.search.storage import make_storage

if TYPE_CHECKING:
    from optuna.artifacts import FileSystemArtifactStore

logger = logging.getLogger(__name__)

#: Study user attr that maps attached file names to their content hash (attach once per content).
ARTIFACTS_ATTR = "hpo_artifacts"


def artifact_store(root: Path, *, create: bool = False) -> FileSystemArtifactStore:
    """The artifact store in folder ``root`` (``runs/<study>/artifacts``).

    The folder is made only with ``create`` (an upload), so serving a study creates nothing.
    """
    from optuna.artifacts import FileSystemArtifactStore

    if create:
        root.mkdir(parents=True, exist_ok=True)
    return FileSystemArtifactStore(str(root))


def attach_artifacts(study: optuna.Study, store_dir: Path, paths: Iterable[Path]) -> list[str]:
    """Upload files to the study's artifact store, each content once; returns the new ids.

    Missing files are skipped, so callers can pass every file a stage might have produced.
    """
    from optuna.artifacts import upload_artifact

    paths = [Path(p) for p in paths if Path(p).is_file()]
    if not paths:
        return []
    store = artifact_store(store_dir, create=True)
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


def final_stage_files(layout: RunLayout) -> list[Path]:
    """Files of the final stage worth showing in the dashboard, those that exist now."""
    candidates = [layout.best_params, layout.final / "metrics.json", layout.report]
    candidates += sorted(layout.root.glob("*.png"))
    return [p for p in candidates if p.is_file()]


def serve(storage_url: str, store_dir: Path, *, host: str, port: int) -> None:
    """Run optuna-dashboard on the storage at ``storage_url`` and the artifact store in
    ``store_dir`` (blocks)."""
    from optuna_dashboard import run_server

    # Same engine settings as the search (WAL, busy timeout): reading while trials are written
    # waits for the lock instead of failing with "database is locked".
    run_server(
        make_storage(storage_url),
        host=host,
        port=port,
        artifact_store=artifact_store(store_dir),
    )
