"""``hpo run``: search -> export -> baselines -> retrain -> the choice of the shipped model ->
report, each stage resumable. With ``study.n_trials: 0`` (chosen by a budget's plan, or set)
there is no search: the final stage trains the strong default.

A finished stage is not done again: the search resumes (or has nothing left to do), the retrain
and the baselines reuse their results files when their inputs are unchanged, and the report is
rebuilt from those files.

A budgeted job may run in two parts, in two processes (``hpo launch slurm --budget``: the
search in a job array, the final stage in a job after it): ``part="search"`` plans where it
runs, owns the search's share and stores when the budget began on the study; ``part="final"``
goes on from the study with the same plan and the same start, so both count one budget.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

from hpo.errors import ConfigError, HpoError
from hpo.runs import INPUTS_KEY, RunLayout, write_atomically

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from hpo.config.schema import HpoConfig
    from hpo.plan.budgeted import StageClock


def run_all(
    config: HpoConfig,
    *,
    quiet: bool = False,
    seeds: int = 1,
    with_reference: bool | None = None,
    started: float | None = None,
    on_plan: Callable[[Any], None] | None = None,
    part: str | None = None,
) -> Path:
    """Every stage in order; returns the report's path (``part="search"``: ``plan.json``).

    ``with_reference`` (default: when the config has a ``reference`` and no budget) also
    retrains the reference setup with the tuned model's epoch budget and seeds, so the report
    measures what tuning was worth on the same test examples. With ``study.budget`` the job is
    planned first (:mod:`hpo.plan`) and keeps the budget; ``started`` (``time.time()``, default
    now) is when its clock began; ``on_plan`` is shown the plan before anything runs.
    ``part``: only the search (``"search"``) or only what follows it (``"final"``) of a
    budgeted job whose start the study keeps.
    """
    # Imported here, not at the top: each loads torch and Transformers (seconds), and
    # importing hpo must stay light for the commands that only read.
    from hpo.config.reference import DEFAULT_EPOCHS
    from hpo.final.baselines import run_baselines
    from hpo.final.best_params import export_best
    from hpo.final.retrain import plan_default, plan_from_study, plan_reference, train_and_test
    from hpo.final.ship import ship_best
    from hpo.plan.budgeted import StageClock, plan_budget, save_plan_on_study
    from hpo.plan.constants import MAX_EPOCHS
    from hpo.plan.replan import (
        final_epochs,
        final_length,
        final_machine,
        final_stop_by,
        planned_epochs,
        rates_at,
        replan_final,
        scoring_seconds,
        search_deadline,
    )
    from hpo.report.dashboard import attach_artifacts, final_stage_files
    from hpo.report.markdown import make_report
    from hpo.search.loop import run_search
    from hpo.search.share import SearchShare
    from hpo.search.storage import load_existing_study, open_study

    started = time.time() if started is None else started
    budgeted = config.study.budget is not None
    resumed = False
    submitted = None
    if part is not None:
        if not budgeted:
            raise ConfigError(
                f"study.budget: --part {part} splits a budgeted job; give --budget (as "
                "`hpo launch slurm --budget` does), or run the whole job with `hpo run`."
            )
        submitted = _submitted(config.output_dir)
        started, resumed = _part_start(
            config.study.name, config.storage_url, part, started, submitted
        )
    if with_reference is None:
        with_reference = bool(config.reference) and not budgeted
    clock = None
    search_kwargs: dict[str, Any] = {}
    if budgeted:
        config, plan, profile = plan_budget(
            config, with_reference=with_reference, saved=RunLayout(config.output_dir).plan
        )
        if on_plan is not None:
            on_plan(plan)
        clock = StageClock(RunLayout(config.output_dir).plan, plan, started, resumed=resumed)
        if part == "final":
            _note_handover(clock)
        elif part == "search" and not resumed:
            _note_queued(clock, submitted)
        retrains = 2 if with_reference else 1
        search_kwargs = {
            "deadline": functools.partial(
                search_deadline, clock, profile=profile, retrains=retrains
            ),
            "shortest_trial": plan.shortest_trial_seconds,
        }
    layout = RunLayout(config.output_dir)
    study = None
    if part == "search" and clock is not None and config.study.n_trials == 0:
        # No search planned: the study is stored with a share that has ended, so the workers
        # waiting for the plan leave at once.
        write_atomically(layout.config_file, config.to_yaml(absolute=True))
        ended = SearchShare(time.time(), clock.plan.budget_seconds, 0.0, started)
        ended.publish(open_study(config))
        return clock.path
    if config.study.n_trials > 0:
        if part == "final":  # the search ran in the job before: its study is what it left
            study = load_existing_study(config.study.name, config.storage_url, config.source)
        else:
            with _timed(clock, "search"):
                study = run_search(config, quiet=quiet, budget_started=started, **search_kwargs)
        if clock is not None:
            save_plan_on_study(study, clock.plan)
        if part == "search":
            return clock.path
        export_best(
            study, config.trainer_setup, config.data, layout.best_params, config.storage_url
        )
        # A budgeted run trains the strong default unless the search beat it beyond noise.
        final = plan_from_study(study, config.study.evals_per_epoch, prefer_default=budgeted)
        if clock is not None and final.default_kept:
            clock.note(f"final stage: {final.default_kept}")
    else:  # no search (the plan's choice, or yours): the strong default
        write_atomically(layout.config_file, config.to_yaml(absolute=True))
        final = plan_default(
            config.search_space,
            config.training,
            epochs=planned_epochs(clock.plan) if clock is not None else DEFAULT_EPOCHS,
        )
        # Trained without validation, the strong default keeps its best point on it.
        final = dataclasses.replace(final, keep_best=config.study.ship == "best")

    def at_length(length: int) -> HpoConfig:
        """The config at the final stage's ``length`` (a budget's final stage with no search
        chooses it again), written where the model handed over, its report and a rerun read."""
        if length == config.data.max_length:
            return config
        changed = dataclasses.replace(
            config, data=dataclasses.replace(config.data, max_length=length)
        )
        write_atomically(layout.config_file, changed.to_yaml(absolute=True))
        return changed

    # A budget's final stage that keeps its best point: its epochs are the time left's.
    epochs_from_time = clock is not None and bool(clock.plan.facts.get("final_keep_best"))
    # TF-IDF needs nothing of the final stage: it runs first, so that the final stage's epochs
    # take the time it actually left (its planned seconds are an allowance).
    with _timed(clock, "baselines"):
        # A budget too small for the TF-IDF grid and the final stage holds part of the grid.
        settings = clock.plan.facts.get("tfidf_settings") if clock is not None else None
        run_baselines(config.trainer_setup, config.data, tfidf_settings=settings)
    done = _finished_plan(layout.final / "metrics.json", final.params)
    if done is not None:  # a rerun: the model trained before is the job's, not redone
        final = dataclasses.replace(
            final,
            params=done["params"],
            stop_epoch=done["stop_epoch"],
            keep_best=bool(done.get("keep_best")),
        )
        # Trained at the length its start chose (a budget's final stage may re-plan it).
        length = done.get("max_length") or config.data.max_length
        config = at_length(int(length))
    elif epochs_from_time:
        retrains = 2 if with_reference else 1
        batch = final.train_batch(config.training)
        with _timed(clock, "final"):
            seen = final_machine(
                config.trainer_setup, clock, profile, length=config.data.max_length, batch=batch
            )
            if study is None:  # no search: its length is the time left's too
                length = final_length(
                    config.trainer_setup, clock, profile, seen, batch=batch, retrains=retrains
                )
                if length != config.data.max_length:
                    # Timed there: a ratio seen at one length and batch says little of another.
                    config = at_length(length)
                    seen = final_machine(
                        config.trainer_setup, clock, profile, length=length, batch=batch
                    )
            rates = (
                None
                if seen is None
                else rates_at(
                    config.trainer_setup, profile, seen, length=config.data.max_length, batch=batch
                )
            )
        epochs = final_epochs(clock, study, profile=profile, retrains=retrains, rates=rates)
        final = dataclasses.replace(
            final,
            params={**final.params, "num_train_epochs": epochs},
            stop_epoch=float(epochs),
            keep_best=True,
            # The reference retrain after it has its own share: no clock of its own to stop by.
            stop_by=None
            if with_reference
            else final_stop_by(clock, study, profile=profile, rates=rates),
            # Its steps, once timed, fit its epochs to that deadline, up to the most.
            most_epochs=float(MAX_EPOCHS),
            eval_seconds=scoring_seconds(clock, study, examples=profile.n_validation, rates=rates),
        )
    elif clock is not None and study is not None:
        stop = replan_final(
            clock,
            study,
            stop_epoch=final.stop_epoch,
            evals_per_epoch=config.study.evals_per_epoch,
            profile=profile,
            retrains=2 if with_reference else 1,
        )
        final = dataclasses.replace(final, stop_epoch=stop)
    with _timed(clock, "final"):
        trained = train_and_test(config, final, layout.final, seeds=seeds, quiet=quiet)
    if trained.fitted_epochs is not None:
        clock.note(
            f"final stage fitted to its deadline by its steps' pace: "
            f"{trained.fitted_epochs:g} epoch(s) instead of {final.stop_epoch:g}"
        )
    stop = trained.fitted_epochs or final.stop_epoch
    if final.stop_by is not None and trained.epochs_trained < stop - 0.01:
        clock.note(
            f"final stage stopped by the deadline at epoch {trained.epochs_trained:g} of "
            f"{stop:g}; its best point on validation (epoch {trained.best_epoch}) kept"
        )
    with _timed(clock, "baselines"):
        ship_best(
            config.study, config.data, model_name=config.model.name, output_dir=config.output_dir
        )
    if with_reference:
        reference = plan_reference(config.reference, config.search_space, final.stop_epoch)
        with _timed(clock, "reference"):
            train_and_test(config, reference, layout.reference, seeds=seeds, quiet=quiet)
    with _timed(clock, "report"):
        report = make_report(config)
        if study is not None:
            attach_artifacts(study, layout.artifacts, final_stage_files(layout))
    return report


def _part_start(
    study_name: str, storage_url: str, part: str, now: float, submitted: float | None = None
) -> tuple[float, bool]:
    """When the budget of a job run in parts began, and whether its clock goes on from what an
    earlier part recorded in ``plan.json``: the start stored on the study where there is one
    (the final part, or a requeued search part, which keeps its first deadline), else ``now``
    for the search part. A start stored before the job was ``submitted`` (``hpo launch slurm``
    notes when) is an earlier job's: the search part of a new one starts afresh."""
    from hpo.search.share import stored_share

    if part not in ("search", "final"):
        raise HpoError(f"--part must be search or final, got {part!r}.")
    share = stored_share(study_name, storage_url)[1]
    earlier = share is not None and share.started is not None
    if part == "search" and earlier and submitted is not None and share.started < submitted:
        earlier = False
    if not earlier:
        if part == "final":
            raise HpoError(
                f"study {study_name!r} in {storage_url} holds no budgeted search to go on "
                "from: run `hpo run CONFIG --budget B --part search` first (task 0 of "
                "`hpo launch slurm --budget` does)."
            )
        return now, False
    return share.started, True


def _note_handover(clock: StageClock) -> None:
    """In ``plan.json``: the seconds between the search part's end and this final part's start
    (the workers' last trials, the queue), counted in the budget like any other."""
    searched = clock.started + sum(clock.actual.get(k, 0.0) for k in ("prepare", "search"))
    gap = time.time() - searched
    if gap >= 1.0:
        clock.note(f"the final part started {gap:.0f} s after the search part ended")


def _submitted(output_dir: Path) -> float | None:
    """When ``hpo launch slurm`` submitted this study's job (``slurm/submitted.json``)."""
    from hpo.search.launch import slurm_folder

    try:
        record = json.loads((slurm_folder(output_dir) / "submitted.json").read_text("utf-8"))
        return float(record["submitted"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _note_queued(clock: StageClock, submitted: float | None) -> None:
    """In ``plan.json``: how long the job waited in the scheduler's queue before its search
    part began (``submitted``: when ``hpo launch slurm`` submitted it), which the budget does
    not count."""
    if submitted is not None and clock.started - submitted >= 1.0:
        waited = clock.started - submitted
        clock.note(f"queued {waited:.0f} s before the search part began (not in the budget)")


def _finished_plan(metrics: Path, params: dict) -> dict[str, Any] | None:
    """The inputs of a final stage already trained with ``params`` (its epochs, and its length,
    may differ: a budgeted run re-plans them) and the ``max_length`` it trained at, or None."""
    try:
        record = json.loads(metrics.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    inputs = record.get(INPUTS_KEY) or {}

    def bare(p: Any) -> dict:
        return {k: v for k, v in (p or {}).items() if k != "num_train_epochs"}

    if "stop_epoch" not in inputs or bare(inputs.get("params")) != bare(params):
        return None
    return {**inputs, "max_length": record.get("max_length")}


def _timed(clock: StageClock | None, name: str) -> contextlib.AbstractContextManager[None]:
    return clock.stage(name) if clock is not None else contextlib.nullcontext()
