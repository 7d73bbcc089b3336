"""``hpo run``: search -> export -> retrain -> baselines -> report, each stage resumable.

A finished stage is not done again: the search resumes (or has nothing left to do), the retrain
and the baselines reuse their results files when their inputs are unchanged, and the report is
rebuilt from those files.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpo.layout import RunLayout, write_atomically

if TYPE_CHECKING:
    from hpo.config import HpoConfig

logger = logging.getLogger(__name__)


def _cached_json(
    path: Path, key: dict[str, Any], make: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    if path.exists():
        done = json.loads(path.read_text())
        if done.get("_key") == key:
            logger.info("Reusing %s", path)
            return done
    result = {**make(), "_key": key}
    write_atomically(path, json.dumps(result, indent=2) + "\n")
    return result


def run_baselines(config: HpoConfig) -> dict[str, Any]:
    """Classical and zero-shot baselines on the test split, cached in ``baselines.json``."""
    from hpo.baselines import classical, zero_shot
    from hpo.data import locate

    data = config.data
    key = {
        "data": locate(data).fingerprint or data.dataset,
        "model": config.model.name,
        "max_length": data.max_length,
        "truncation": [data.truncation, data.head_fraction],
        "drop_test_overlap": data.drop_test_overlap,
        "columns": [data.text_column, data.text_pair_column, data.label_column],
        "label_names": data.label_names,
        "test_split": [data.test_fraction, data.split_seed],
        "metric": [config.study.metric, data.positive_label],
    }
    return _cached_json(
        RunLayout.of(config).baselines,
        key,
        lambda: {"classical": classical(config), "zero_shot": zero_shot(config)},
    )


def make_report(config: HpoConfig) -> Path:
    """Rebuild ``report.md`` and its plots from the results files that exist.

    Writes nothing else: not the study, not the dashboard's artifacts.
    """
    from hpo.report import write_report
    from hpo.splits import final_splits, labels_agree, train_test_overlap
    from hpo.storage import load_existing_study

    study = load_existing_study(config)
    layout = RunLayout.of(config)
    results: dict[str, Any] = {}
    for name, path in (
        ("tuned", layout.final / "metrics.json"),
        ("reference", layout.reference / "metrics.json"),
    ):
        if path.exists():
            results[name] = json.loads(path.read_text())
    if layout.baselines.exists():
        results |= json.loads(layout.baselines.read_text())
    # The overlap is measured on the data as published, before any dropping.
    made = final_splits(dataclasses.replace(config.data, drop_test_overlap=False))
    train, test = made.splits["train"], made.splits["test"]
    texts = train_test_overlap(train, test)
    overlap = list(zip(texts, labels_agree(train, test, texts), strict=True))
    return write_report(
        study,
        config,
        results,
        overlap,
        layout.root,
        test_labels=test["label"],
        test_carved=made.test_carved,
    )


def run_all(
    config: HpoConfig, *, quiet: bool = False, seeds: int = 1, with_reference: bool | None = None
) -> Path:
    """Every stage in order; returns the report's path.

    ``with_reference`` (default: when the config has a ``reference``) also retrains the
    reference setup with the tuned model's epoch budget and seeds, so the report measures what
    tuning was worth on the same test examples.
    """
    from hpo.dashboard import attach_artifacts, final_stage_files
    from hpo.export import export_best
    from hpo.retrain import plan_from_study, plan_reference, train_and_test
    from hpo.search import run_search

    layout = RunLayout.of(config)
    study = run_search(config, quiet=quiet)
    export_best(study, config, layout.best_params)
    plan = plan_from_study(config)
    train_and_test(config, plan, layout.final, seeds=seeds, quiet=quiet)
    run_baselines(config)
    if with_reference is None:
        with_reference = bool(config.reference)
    if with_reference:
        reference = plan_reference(config, plan.stop_epoch)
        train_and_test(config, reference, layout.reference, seeds=seeds, quiet=quiet)
    report = make_report(config)
    attach_artifacts(study, config, final_stage_files(config))
    return report
