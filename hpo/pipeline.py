"""``hpo run``: search -> export -> retrain -> baselines -> report, each stage resumable.

A finished stage is not done again: the search resumes (or has nothing left to do), the retrain
and the baselines reuse their results files when their inputs are unchanged, and the report is
rebuilt from those files.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hpo.runs import RunLayout

if TYPE_CHECKING:
    from pathlib import Path

    from hpo.config.schema import HpoConfig


def run_all(
    config: HpoConfig, *, quiet: bool = False, seeds: int = 1, with_reference: bool | None = None
) -> Path:
    """Every stage in order; returns the report's path.

    ``with_reference`` (default: when the config has a ``reference``) also retrains the
    reference setup with the tuned model's epoch budget and seeds, so the report measures what
    tuning was worth on the same test examples.
    """
    # Imported here, not at the top: each loads torch and Transformers (seconds), and
    # importing hpo must stay light for the commands that only read.
    from hpo.final.baselines import run_baselines
    from hpo.final.best_params import export_best
    from hpo.final.retrain import plan_from_study, plan_reference, train_and_test
    from hpo.report.dashboard import attach_artifacts, final_stage_files
    from hpo.report.markdown import make_report
    from hpo.search.loop import run_search

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
    attach_artifacts(study, layout.artifacts, final_stage_files(layout))
    return report
