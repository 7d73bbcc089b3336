"""``hpo launch slurm``: a job array of ``hpo worker`` tasks on one stored study.

The study and the tokenization cache are made here first, on the login node, so the array's
tasks start on a ready study instead of racing to create its schema (optuna#1092, #4621).
Each task runs ``hpo worker`` on the study's saved config (``runs/<study>/config.yaml``); the
database is the only coordinator, as for any workers. A worker exits 0 once the study holds
``n_trials`` finished trials, so an array larger than needed ends cleanly, and a task that is
requeued (preempted, or given up on an unreachable database) resumes like any new worker.

With a budget (``--budget``), the job is the whole of ``hpo run --budget`` on the cluster: task 0
plans on its compute node (the machine the workers train on, not the login node), owns the
search's share and stores when the budget began; the other tasks wait for that plan and run
it within the share; a final job that depends on the array (``--dependency=afterany``) runs the
final stage, baselines and report on the same clock. A task that ends cleanly cancels the
array's tasks still pending, so the final job starts when the share ends, not when the queue
drains. The time a task spent queued before the budget began is noted, not counted.

Plain ``sbatch`` rather than submitit: the tasks run a command, not a pickled function, so the
script is one a user can read, edit and resubmit by hand, and nothing else needs installing on
the cluster.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hpo.errors import HpoError
from hpo.runs import RunLayout, write_atomically
from hpo.search.resilient import EXIT_UNREACHABLE

if TYPE_CHECKING:
    from hpo.config.schema import DataSection, ModelSection, StudySetup

logger = logging.getLogger(__name__)

#: A job's wall-clock limit as Slurm writes it: minutes, MM:SS, HH:MM:SS, D-HH[:MM[:SS]].
_TIME = re.compile(r"^(\d+|\d+:\d{2}|\d+:\d{2}:\d{2}|\d+-\d{1,2}(:\d{2}){0,2})$")


@dataclass(frozen=True)
class SlurmJob:
    """What ``hpo launch slurm`` asks of Slurm: one array task per worker."""

    workers: int
    cpus_per_worker: int = 1
    gpus_per_worker: int = 0
    partition: str | None = None
    time: str | None = None
    max_parallel: int | None = None
    sbatch_args: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        for flag, value, least in (
            ("--workers", self.workers, 1),
            ("--cpus-per-worker", self.cpus_per_worker, 1),
            ("--gpus-per-worker", self.gpus_per_worker, 0),
            ("--max-parallel", self.max_parallel or 1, 1),
        ):
            if value < least:
                raise HpoError(f"{flag} must be >= {least}, got {value}.")
        if self.time is not None and not _TIME.match(self.time):
            raise HpoError(
                f"--time: {self.time!r} is not a Slurm time limit; use minutes (90), "
                "HH:MM:SS (1:30:00) or D-HH:MM (1-12:00)."
            )

    def directives(self, job_name: str, logs: Path) -> list[str]:
        """The script's ``#SBATCH`` lines."""
        array = f"0-{self.workers - 1}"
        if self.max_parallel:
            array += f"%{self.max_parallel}"
        lines = [
            f"--job-name={job_name}",
            f"--array={array}",
            "--ntasks=1",
            f"--cpus-per-task={self.cpus_per_worker}",
            f"--output={logs}/%A_%a.out",
            "--open-mode=append",  # a requeued task adds to its log instead of replacing it
            "--requeue",
        ]
        if self.gpus_per_worker:
            lines.append(f"--gres=gpu:{self.gpus_per_worker}")
        if self.partition:
            lines.append(f"--partition={self.partition}")
        if self.time:
            lines.append(f"--time={self.time}")
        lines += list(self.sbatch_args)
        return [f"#SBATCH {shlex.quote(line)}" for line in lines]


def slurm_folder(output_dir: Path) -> Path:
    """``runs/<study>/slurm/``: the job script and, under ``logs/``, one log per task."""
    return RunLayout(output_dir).root / "slurm"


def job_config(output_dir: Path) -> Path:
    """``runs/<study>/slurm/job.yaml``: a budgeted job's config as given (every part of the job
    plans from it, so that all of them find the one plan task 0 made)."""
    return slurm_folder(output_dir) / "job.yaml"


def _environment() -> list[str]:
    lines = [
        # Each task's share of the node's cores, not one thread per core of the whole node.
        'export OMP_NUM_THREADS="${SLURM_CPUS_PER_TASK:-1}"',
        'export MKL_NUM_THREADS="${SLURM_CPUS_PER_TASK:-1}"',
    ]
    for key in ("HF_HOME", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HPO_CACHE"):
        if key in os.environ:  # what this shell found its models and caches with
            lines.append(f"export {key}={shlex.quote(os.environ[key])}")
    return lines


def render_script(
    study_name: str,
    output_dir: Path,
    job: SlurmJob,
    *,
    python: str | None = None,
    budgeted: bool = False,
) -> str:
    """The job-array script of study ``study_name`` whose run folder is ``output_dir``: each
    task runs ``hpo worker`` on the study's saved config. ``budgeted``: task 0 runs the search
    part of ``hpo run`` on the job's config instead (it plans and owns the deadline), the
    others join it, and a task that ends cleanly cancels the tasks still pending. Its tasks log
    the plan and one line per trial (a log is no terminal: no progress bars)."""
    folder = slurm_folder(output_dir).absolute()
    python = shlex.quote(python or sys.executable)
    if budgeted:
        config = shlex.quote(str(job_config(output_dir).absolute()))
        run = [
            'if [ "${SLURM_ARRAY_TASK_ID:-0}" = 0 ]; then',
            "    # Plans on this node and owns the search's share (a requeue keeps its deadline).",
            f"    {python} -m hpo.cli run {config} --part search",
            "else",
            f"    {python} -m hpo.cli worker {config}",
            "fi",
        ]
    else:
        config = shlex.quote(str(RunLayout(output_dir).config_file.absolute()))
        run = [f"{python} -m hpo.cli worker {config} --quiet"]
    cancel = []
    if budgeted:
        cancel = [
            'if [ "${SLURM_ARRAY_TASK_ID:-0}" = 0 ] && [ $code -ne 0 ] '
            f"&& [ $code -ne {EXIT_UNREACHABLE} ] \\",
            '    && [ -n "${SLURM_ARRAY_JOB_ID:-}" ]; then',
            "    # Task 0 failed (its log says why): the others would wait for a plan that never",
            "    # comes. End the array; the final job goes on from whatever the study holds.",
            '    scancel "$SLURM_ARRAY_JOB_ID" || true',
            "fi",
            'if [ $code -eq 0 ] && [ -n "${SLURM_ARRAY_JOB_ID:-}" ]; then',
            "    # The search's share has ended: a task still queued would start only to leave,",
            "    # and the final job waits for every task. Cancel them so it starts now.",
            '    scancel --state=PENDING "$SLURM_ARRAY_JOB_ID" || true',
            "fi",
        ]
    return "\n".join(
        [
            "#!/bin/bash",
            f"# Written by `hpo launch slurm` for study {study_name!r}; resubmit with",
            f"#   sbatch {shlex.quote(str(folder / 'worker.sbatch'))}",
            *job.directives(f"hpo-{study_name}", folder / "logs"),
            "",
            "set -u",
            f"cd {shlex.quote(str(Path.cwd()))}",
            *_environment(),
            'echo "hpo worker: task ${SLURM_ARRAY_TASK_ID:-?} of job '
            '${SLURM_ARRAY_JOB_ID:-?} on $(hostname)"',
            *run,
            "code=$?",
            f'if [ $code -eq {EXIT_UNREACHABLE} ] && [ -n "${{SLURM_JOB_ID:-}}" ]; then',
            "    # The database stayed out of reach for the grace period: another worker reruns",
            "    # the trial; this task goes back in the queue to join again later.",
            '    scontrol requeue "$SLURM_JOB_ID"',
            "fi",
            *cancel,
            "exit $code",
            "",
        ]
    )


def render_final_script(
    study_name: str, output_dir: Path, job: SlurmJob, *, python: str | None = None
) -> str:
    """The script of a budgeted job's final job: the final part of ``hpo run`` on the job's
    config, after the array (sbatch gives it ``--dependency=afterany:<array>``)."""
    folder = slurm_folder(output_dir).absolute()
    python = shlex.quote(python or sys.executable)
    config = shlex.quote(str(job_config(output_dir).absolute()))
    single = dataclasses.replace(job, workers=1, max_parallel=None)
    directives = [
        line
        for line in single.directives(f"hpo-{study_name}-final", folder / "logs")
        if "--array=" not in line and "--output=" not in line
    ]
    directives.insert(1, f"#SBATCH {shlex.quote(f'--output={folder}/logs/%j_final.out')}")
    return "\n".join(
        [
            "#!/bin/bash",
            f"# Written by `hpo launch slurm --budget` for study {study_name!r}: the final stage,",
            "# baselines and report after the worker array; rerun it (it goes on from what",
            f"# exists) with: sbatch {shlex.quote(str(folder / 'final.sbatch'))}",
            *directives,
            "",
            "set -u",
            f"cd {shlex.quote(str(Path.cwd()))}",
            *_environment(),
            'echo "hpo final: job ${SLURM_JOB_ID:-?} on $(hostname)"',
            f"exec {python} -m hpo.cli run {config} --part final",
            "",
        ]
    )


def _write(path: Path, text: str, mode: int = 0o700) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, text)
    path.chmod(mode)  # it may hold a storage URL with a password, as config.yaml does
    return path


def write_script(study_name: str, output_dir: Path, job: SlurmJob) -> Path:
    """Write ``runs/<study>/slurm/worker.sbatch`` (and its ``logs/`` folder); its path."""
    folder = slurm_folder(output_dir)
    (folder / "logs").mkdir(parents=True, exist_ok=True)
    return _write(folder / "worker.sbatch", render_script(study_name, output_dir, job))


def check_storage(url: str) -> None:
    """Refuse a storage URL the workers of a cluster cannot share safely."""
    if url.startswith("sqlite"):
        raise HpoError(
            f"study.storage: {url} is a SQLite file; workers on several nodes would share it "
            "over a network file system, which SQLite's locking does not survive. Pass "
            "--storage postgresql://user:pass@host/db (a server every node reaches)."
        )


def submit(script: Path, *options: str) -> str:
    """``sbatch --parsable [OPTIONS] SCRIPT``; the job id."""
    sbatch = shutil.which("sbatch")
    if sbatch is None:
        raise HpoError(
            "sbatch: not found on PATH. Run `hpo launch slurm` on a node that submits Slurm "
            f"jobs, or add --dry-run to only write the script ({script})."
        )
    done = subprocess.run(
        [sbatch, "--parsable", *options, str(script)], capture_output=True, text=True
    )
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip().splitlines()
        raise HpoError(
            f"sbatch refused {script}: {reason[-1] if reason else f'exit {done.returncode}'}. "
            "Fix the option it names (--partition, --time, --sbatch-arg) and launch again."
        )
    return done.stdout.strip().split(";")[0]  # "id" or "id;cluster"


@dataclass(frozen=True)
class Launched:
    """What ``hpo launch slurm`` wrote and submitted."""

    #: The job-array script (``worker.sbatch``).
    script: Path
    #: The array's job id (None for a dry run).
    job_id: str | None
    #: A budgeted job's final script (``final.sbatch``) and its job id.
    final_script: Path | None = None
    final_job_id: str | None = None


def launch(
    setup: StudySetup,
    model: ModelSection,
    data: DataSection,
    job: SlurmJob,
    *,
    given: str,
    dry_run: bool = False,
) -> Launched:
    """Prepare the study (``setup``; ``model`` on ``data``), write the job script and (unless
    ``dry_run``) submit it.

    A dry run writes the script and the config its tasks run (``runs/<study>/config.yaml``),
    and touches no database, cache or queue. With ``study.budget``: the budgeted job (see the
    module), for ``study.workers`` trials at once (:func:`hpo.api.launch_slurm` sets it to
    ``job.workers``), whose tasks run ``given``, the config as the user gave it
    (:meth:`~hpo.config.schema.HpoConfig.to_yaml` ``given=True``); the plan it keeps is made on
    the compute node by task 0.
    """
    check_storage(setup.storage_url)
    name, out = setup.study.name, setup.output_dir
    if setup.study.budget is not None:
        if not dry_run:
            from hpo.search.storage import make_storage

            make_storage(setup.storage_url)  # the schema, before the tasks race to create it
        folder = slurm_folder(out)
        (folder / "logs").mkdir(parents=True, exist_ok=True)
        _write(job_config(out), given, 0o600)  # read, not run
        script = _write(folder / "worker.sbatch", render_script(name, out, job, budgeted=True))
        final = _write(folder / "final.sbatch", render_final_script(name, out, job))
        if dry_run:
            return Launched(script, None, final, None)
        submitted = time.time()
        array = submit(script)
        try:
            after = submit(final, f"--dependency=afterany:{array}")
        except HpoError:
            with contextlib.suppress(OSError):  # no array left without its final job
                subprocess.run(["scancel", array], check=False)
            raise
        record = {"submitted": submitted, "array_job": array, "final_job": after}
        write_atomically(folder / "submitted.json", json.dumps(record) + "\n")
        return Launched(script, array, final, after)
    if dry_run:
        write_atomically(RunLayout(out).config_file, setup.to_yaml())
        return Launched(write_script(name, out, job), None)
    from hpo.search.loop import load_search_data, open_and_seed

    _, prepared = load_search_data(model, data, setup.study.metric)
    open_and_seed(setup, prepared)  # also writes runs/<study>/config.yaml, the tasks' config
    script = write_script(name, out, job)
    return Launched(script, submit(script))
