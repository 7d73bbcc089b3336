"""Best trial -> YAML that ``hpo retrain`` takes back, with provenance.

The file has two parts: ``params`` (exactly ``study.best_trial.params``) and ``provenance``
(where the params came from and what they were scored with). Only ``params`` and the peak epoch
are read back; the rest is for people.
"""

from __future__ import annotations

import datetime as dt
import platform
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
import yaml

from hpo.config.loader import parse_yaml
from hpo.config.space import check_contains
from hpo.errors import ConfigError, config_source
from hpo.runs import write_atomically
from hpo.search.trials import best_trial, peak_epoch
from hpo.train.trial_record import EVALS_ATTR

if TYPE_CHECKING:
    from hpo.config.schema import DataSection, ParamSpec, TrainerSetup

PACKAGES = ("hpo-tune", "torch", "transformers", "datasets", "evaluate", "optuna", "accelerate")


def package_versions() -> dict[str, str]:
    """Versions of the packages that decide a result."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def hardware() -> dict[str, Any]:
    """The machine: CPU, core count, and GPU when there is one."""
    import os

    import torch

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["gpu_count"] = torch.cuda.device_count()
    return info


def export_best(
    study: optuna.Study,
    setup: TrainerSetup,
    data: DataSection,
    path: str | Path,
    storage_url: str,
) -> dict[str, Any]:
    """Write the best trial's params with provenance to ``path``; returns the document
    (``setup`` and ``data``: what the trials trained, for the provenance)."""
    trial = best_trial(study)
    doc = {
        "params": dict(trial.params),
        "provenance": {
            "study_name": study.study_name,
            "storage": storage_url,
            "trial_number": trial.number,
            "metric": setup.metric,
            "validation_value": trial.value,
            "validation_value_is": "the maximum over the study's trials and their evaluations "
            "(optimistic for the retrained model)",
            "peak_epoch": peak_epoch(trial),
            "evals": trial.user_attrs.get(EVALS_ATTR, []),
            "model": setup.model.name,
            "dataset": data.path or data.dataset,
            "data_fingerprint": study.user_attrs.get("data_fingerprint"),
            "labels": (study.user_attrs.get("data_identity") or {}).get("labels"),
            "text_pair_column": data.text_pair_column,
            "split_seed": data.split_seed,
            "validation_fraction": data.validation_fraction,
            "max_train_samples": data.max_train_samples,
            "max_eval_samples": data.max_eval_samples,
            "max_length": data.max_length,
            "training": dict(setup.training),
            "packages": package_versions(),
            "hardware": hardware(),
            "exported_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        },
    }
    write_atomically(Path(path), yaml.safe_dump(doc, sort_keys=False))
    return doc


def load_params(
    path: str | Path, search_space: Mapping[str, ParamSpec]
) -> tuple[dict[str, Any], float | None]:
    """Read an exported file back: (params, peak epoch or None), checked against the config's
    ``search_space``. Errors name the params file."""
    source = str(path)
    try:
        doc = parse_yaml(Path(path).read_text(encoding="utf-8"), source=source)
    except FileNotFoundError:
        raise ConfigError(
            f"params file not found (looked for {Path(path).absolute()}). Write one "
            "with `hpo export`.",
            source=source,
        ) from None
    with config_source(source):
        if not isinstance(doc, dict) or not isinstance(doc.get("params"), dict):
            raise ConfigError(
                "expected a mapping with a 'params' mapping, as written by `hpo export`."
            )
        params = doc["params"]
        missing = sorted(set(search_space) - set(params))
        extra = sorted(set(params) - set(search_space))
        if missing or extra:
            raise ConfigError(
                "params do not match the config's search_space (missing: "
                f"{', '.join(missing) or '-'}; unknown: {', '.join(extra) or '-'})."
            )
        for key, value in params.items():
            check_contains(
                search_space[key],
                value,
                where=f"params.{key}",
                hint="Export the params again from this study, or widen search_space.",
            )
    peak = (doc.get("provenance") or {}).get("peak_epoch")
    return params, float(peak) if peak is not None else None
