"""Run the search: ``Trainer.hyperparameter_search(backend="optuna")`` over a stored study.

One process or many (``--workers``, or ``hpo worker`` on other machines) run the same loop
against the same storage: it ends when the study holds exactly ``study.n_trials`` COMPLETE +
PRUNED trials. FAILED trials (a killed worker, out of memory) do not count and are replaced.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import TrialState

from hpo.config.samplers import build_pruner, build_sampler
from hpo.config.space import make_hp_space
from hpo.data.labels import class_summary
from hpo.data.tokenized import Prepared, prepare
from hpo.errors import DiskFull, HpoError, Interrupted
from hpo.runs import RunLayout, write_atomically
from hpo.search.deadline import fewest_epochs, out_of_time
from hpo.search.enqueue import enqueue_first_trials, first_trial_names, first_trials
from hpo.search.note import CONFIG_FILE_ATTR, objective_title, update_study_note
from hpo.search.resilient import database_lost, failed_as_stale
from hpo.search.retry import retry_out_of_memory
from hpo.search.share import share_clock
from hpo.search.storage import fail_stale_trials, make_storage, open_study, requeue
from hpo.search.trials import (
    VALIDATION_EXAMPLES_ATTR,
    check_not_surplus,
    count_states,
    finished,
    peak_epoch,
    short_params,
)
from hpo.train.callbacks import on_terminal
from hpo.train.model import load_tokenizer
from hpo.train.objective import objective_for
from hpo.train.settings import halving_batch, with_defaults
from hpo.train.trainer import build_trainer

if TYPE_CHECKING:
    from hpo.config.schema import DataSection, HpoConfig, ModelSection, StudySection, StudySetup

logger = logging.getLogger(__name__)

#: Errors that fail one trial only: the search goes on (out of memory, a surplus trial that
#: one worker too many started at the end, a bug one params set hits). An
#: :class:`~hpo.errors.HpoError` (bad config or data) fails its trial and then ends the search
#: with its own message: every later trial would hit it too; so does a full disk
#: (:class:`~hpo.errors.DiskFull`), whose trial's params are queued for another worker.
TRIAL_ERRORS: tuple[type[BaseException], ...] = (Exception,)

#: How Optuna refuses a late result for a trial another worker failed as stale: a write to a
#: finished trial, "Cannot tell a FAIL trial", or, when the objective itself had returned, the
#: assertion its ``_run_trial`` reaches with no error to log.
STALE_REFUSALS = (optuna.exceptions.UpdateFinishedTrialError, ValueError, AssertionError)

#: Consecutive trials that may fail with nothing finishing before the search gives up.
MAX_CONSECUTIVE_FAILURES = 3


def seeded_sampler(
    sampler: Mapping[str, Any], n_existing: int, *, salt: int = 0
) -> optuna.samplers.BaseSampler:
    """The ``study.sampler`` block's sampler, its seed offset by the trials already in the study
    (and ``salt``).

    One sampler serves all the trials a process runs, as in ``study.optimize``: a new study
    with seed 42 gets the same suggestions as any other Optuna search seeded 42. A resumed
    study would replay the same random start-up suggestions with the same seed; offsetting by
    the trials already stored keeps runs reproducible without repeats. Workers add a ``salt``
    of their own, or two workers started together would suggest the same params in lockstep.
    """
    spec = dict(sampler)
    if spec.get("seed") is not None:
        spec["seed"] = (int(spec["seed"]) + n_existing + salt) % 2**32
    return build_sampler(spec)


def open_and_seed(
    setup: StudySetup, prepared: Prepared
) -> tuple[optuna.storages.RDBStorage, optuna.Study]:
    """Open (or create) the study for these data, fail stale trials, enqueue the strong default
    and the reference on a new one, and save the resolved config at ``runs/<study>/config.yaml``."""
    storage = make_storage(setup.storage_url, study=setup.study)
    study = open_study(setup, storage=storage, data_identity=prepared.identity)
    study.set_user_attr("data_fingerprint", prepared.data_fingerprint)
    study.set_user_attr(VALIDATION_EXAMPLES_ATTR, len(prepared.splits["validation"]))
    fail_stale_trials(study)
    if not study.trials:  # a new study: resolved once, not on every resume
        trials = first_trials(
            setup.search_space,
            with_defaults(setup.training),
            setup.reference,
            enqueue_reference=setup.study.enqueue_reference,
            n_train=len(prepared.splits["train"]),
        )
        enqueue_first_trials(study, trials)
    layout = RunLayout(setup.output_dir)
    write_atomically(layout.config_file, setup.to_yaml())
    study.set_user_attr(CONFIG_FILE_ATTR, str(layout.config_file.absolute()))
    return storage, study


def load_search_data(model: ModelSection, data: DataSection, metric: str) -> tuple[Any, Prepared]:
    """The tokenizer and the tokenized train/validation splits (from the cache when possible).

    Called before the study is opened, so bad data or a bad model never leaves a new, empty
    study behind in storage.
    """
    tokenizer = load_tokenizer(model)
    prepared = prepare(data, tokenizer, stage="search")
    # f1 on 4 classes fails here, not later.
    objective = objective_for(metric, prepared.labels, positive_label=data.positive_label)
    logger.info(
        "Search data: %d train / %d validation examples, %d classes (%s), objective validation "
        "%s (fingerprint %s, cache %s)",
        len(prepared.splits["train"]),
        len(prepared.splits["validation"]),
        len(prepared.labels),
        class_summary(prepared.labels),
        objective.title,
        prepared.data_fingerprint,
        "hit" if prepared.cache_hit else "miss",
    )
    return tokenizer, prepared


def run_search(
    config: HpoConfig,
    *,
    quiet: bool = False,
    poll_s: float = 2.0,
    worker: bool = False,
    deadline: float | Callable[[optuna.Study], float] | None = None,
    shortest_trial: float = 0.0,
    budget_started: float | None = None,
) -> optuna.Study:
    """Run trials until the study holds ``study.n_trials`` COMPLETE + PRUNED trials.

    A new study gets the reference setup enqueued as its first trial. Re-running resumes the
    same study; trials left RUNNING by a dead process are failed once their heartbeat is older
    than ``study.grace_period`` and rerun with the same params. When the remaining trials are
    all running elsewhere, this process waits for them rather than start a surplus one.
    ``worker``: one of several processes on the study; its sampler seed gets a salt of its own.
    On Ctrl-C the running trial is failed, its params are queued to run first when the search
    resumes, and :class:`hpo.errors.Interrupted` says so.

    ``deadline`` (``time.time()``, a budgeted run): no trial starts that cannot finish before
    it (``shortest_trial`` seconds planned, or what the finished trials took), and a running
    trial that would overrun stops at its next evaluation with its best value. A callable
    deadline is asked again before each trial (a budgeted run moves it with the rates the
    trials measure). The search then ends with fewer than ``study.n_trials`` trials, and the
    study notes it (``budget_closed``), so a rerun of the same budgeted job goes on to the final
    stage. The deadline is stored on the study with ``budget_started``, when its budget began;
    a ``worker`` given no deadline keeps the stored one (:mod:`hpo.search.share`).
    """
    tokenizer, prepared = load_search_data(config.model, config.data, config.study.metric)
    storage, study = open_and_seed(config.study_setup, prepared)
    clock = share_clock(
        study, config.study, deadline, shortest_trial, worker=worker, started=budget_started
    )
    target = config.study.n_trials
    train, validation = prepared.splits["train"], prepared.splits["validation"]
    layout = RunLayout(config.output_dir)
    trainer = build_trainer(
        config.trainer_setup,
        train_dataset=train,
        eval_dataset=validation,
        tokenizer=tokenizer,
        output_dir=layout.trials,
        quiet=quiet,
        # Two workers may pass the count check at once; the later trial is failed unrun.
        before_trial=functools.partial(check_not_surplus, max_trials=target),
    )
    started: list[int] = []
    halving = halving_batch(
        make_hp_space(config.search_space), config.search_space, config.training
    )
    hp_space = _logged(halving, started, study, target)
    salt = (os.getpid() * 7919) if worker else 0
    sampler = seeded_sampler(config.study.sampler, len(study.trials), salt=salt)
    failures = 0
    waiting_logged = False
    # Not on a terminal, the trial bar would be one long line of redraws; every trial's start
    # and end is logged as a line of its own anyway.
    progress = _TrialProgress(
        target, finished(count_states(study)), enabled=not quiet and on_terminal()
    )
    try:
        while True:
            fail_stale_trials(study)
            counts = count_states(study)
            done, running = finished(counts), counts[TrialState.RUNNING]
            progress.update(done, study)
            if done >= target:
                break
            now_due = clock.due(study)
            trainer.deadline = now_due
            if now_due is not None and out_of_time(
                study,
                now_due,
                clock.shortest_trial,
                done,
                fewest_epochs=fewest_epochs(config.search_space, config.training),
                joined=clock.joined,
            ):
                break
            if done + running >= target:
                # The rest are running in other workers (or in a dead one, until its grace
                # period ends and the trial is failed and requeued): wait, don't overshoot.
                if not waiting_logged:
                    logger.info("Waiting for %d running trial(s) to finish.", running)
                    waiting_logged = True
                time.sleep(poll_s)
                continue
            waiting_logged = False
            try:
                _run_one_trial(trainer, config.study, storage, hp_space, sampler, study)
            except KeyboardInterrupt:
                raise _interrupted(study, started, layout.config_file) from None
            except Exception as exc:
                lost = database_lost(exc)
                if lost is not None:  # whatever Optuna raised while handling it
                    raise lost from None
                # This process stopped (frozen, or cut off from the database) for longer than
                # the grace period; another worker failed its trial as stale and reruns it.
                if not (
                    isinstance(exc, STALE_REFUSALS)
                    and started
                    and failed_as_stale(study, started[-1])
                ):
                    raise
                logger.warning(
                    "Trial %s was failed as stale while this worker was out of touch (no "
                    "heartbeat for %d s); its result is discarded and the trial is rerun.",
                    started[-1],
                    config.study.grace_period,
                )
            if trainer.fatal is not None:
                if isinstance(trainer.fatal, DiskFull) and started:
                    requeue(study, started[-1])  # the params were not at fault
                    update_study_note(study)
                raise trainer.fatal
            if started and not retry_out_of_memory(study, started[-1]):
                _log_outcome(study, started[-1])
            update_study_note(study)
            failures = failures + 1 if finished(count_states(study)) == done else 0
            if failures >= MAX_CONSECUTIVE_FAILURES:
                raise HpoError(
                    f"study {config.study.name!r}: {failures} trials in a row failed; see the "
                    f"log above. Fix the cause and run `hpo search {config.source}` again to "
                    "resume."
                )
    finally:
        progress.close()
    clock.close(study)  # the final stage follows: a worker that joins now starts nothing
    update_study_note(study)
    return study


def _interrupted(study: optuna.Study, started: list[int], config_file: Path) -> Interrupted:
    """Fail the interrupted trial, queue its params to run first, and say so (with the study's
    saved config, ``config_file``, to resume it from anywhere)."""
    saved = config_file.absolute()
    resume = f"run the same command again to resume (or `hpo search {saved}`)"
    if not started:
        return Interrupted(f"interrupted before any trial started; {resume}.")
    number = started[-1]
    trial = study.get_trials(deepcopy=False)[number]
    if trial.state == TrialState.RUNNING:  # interrupted outside Optuna's own handler
        study.tell(number, state=TrialState.FAIL)
    elif trial.state != TrialState.FAIL:  # it finished before the interrupt landed
        return Interrupted(f"interrupted after trial {number} finished; {resume}.")
    requeue(study, number)
    update_study_note(study)
    return Interrupted(
        f"interrupted: trial {number} is marked FAILED and its params are queued to run first; "
        f"{resume}."
    )


def _logged(hp_space: Any, started: list[int], study: optuna.Study, target: int) -> Any:
    """``hp_space`` that logs one line when a trial starts, and notes its number."""

    def logged(trial: Any) -> dict[str, Any]:
        params = hp_space(trial)
        if hasattr(trial, "study"):
            started.append(trial.number)
            done = finished(count_states(study))
            frozen = study.get_trials(deepcopy=False)[trial.number]
            retry = frozen.system_attrs.get("failed_trial")
            again = f", rerun of trial {retry}" if retry is not None else ""
            ref = "".join(f", {name}" for name in first_trial_names(trial.user_attrs))
            logger.info(
                "Trial %d started (%d/%d finished%s%s): %s",
                trial.number,
                done,
                target,
                ref,
                again,
                short_params(params),
            )
        return params

    return logged


def _log_outcome(study: optuna.Study, number: int) -> None:
    """One line when a trial completes (a pruned trial logged its own line when it stopped)."""
    trial = study.get_trials(deepcopy=False)[number]
    if trial.state != TrialState.COMPLETE:
        return
    best = study.best_trial
    logger.info(
        "Trial %d finished: validation %s %.4f (peak at epoch %s) in %.0f s; best so far: "
        "trial %d, %.4f",
        number,
        objective_title(study),
        trial.value,
        peak_epoch(trial),
        trial.duration.total_seconds() if trial.duration else 0.0,
        best.number,
        best.value,
    )


class _TrialProgress:
    """A progress bar over the study's trials, with the best value so far.

    It starts at the trials already finished, so its rate and ETA count this run's trials only.
    """

    def __init__(self, total: int, initial: int, *, enabled: bool) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(
            total=total,
            initial=min(initial, total),
            desc="trials",
            unit="trial",
            disable=not enabled,
            position=0,
            leave=True,
        )

    def update(self, done: int, study: optuna.Study) -> None:
        step = min(done, self.bar.total) - self.bar.n
        best = [t.value for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
        if best:
            self.bar.set_postfix(best=f"{max(best):.4f}", refresh=False)
        if step > 0:
            self.bar.update(step)
        else:
            self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def _run_one_trial(
    trainer: Any,
    study_cfg: StudySection,
    storage: optuna.storages.BaseStorage,
    hp_space: Any,
    sampler: optuna.samplers.BaseSampler,
    study: optuna.Study,
) -> None:
    try:
        trainer.hyperparameter_search(
            hp_space=hp_space,
            compute_objective=trainer.objective_of,
            n_trials=1,
            direction=study_cfg.direction,
            backend="optuna",
            hp_name=_trial_name,
            # Passed through to optuna.create_study / study.optimize:
            study_name=study_cfg.name,
            storage=storage,
            load_if_exists=True,
            sampler=sampler,
            pruner=build_pruner(study_cfg.pruner),
            catch=TRIAL_ERRORS,
        )
    except ValueError:
        # Trainer reads study.best_trial after optimizing; while every trial so far was
        # pruned or failed there is none, which is a valid state for the study.
        if study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            raise


def _trial_name(trial: Any) -> str:
    return f"trial-{trial.number}"
