"""``hpo launch slurm``: a job array of ``hpo worker`` tasks on one stored study.

The study and the tokenization cache are made here first, on the login node, so the array's
tasks start on a ready study instead of racing to create its schema (optuna#1092, #4621).
Each task runs ``hpo worker`` on the study's saved config (``runs/<study>/config.yaml``); the
database is the only coordinator, as for any workers. A worker exits 0 once the study holds
``n_trials`` finished trials, so an array larger than needed ends cleanly, and a task that is
requeued (preempted, or given up on an unreachable database) resumes like any new worker.

Plain ``sbatch`` rather than submitit: the tasks run a command, not a pickled function, so the
script is one a user can read, edit and resubmit by hand, and nothing else needs installing on
the cluster.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hpo.errors import HpoError
from hpo.runs import RunLayout, write_atomically
from hpo.search.resilient import EXIT_UNREACHABLE

if TYPE_CHECKING:
    from hpo.config.schema import HpoConfig

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


def render_script(
    study_name: str, output_dir: Path, job: SlurmJob, *, python: str | None = None
) -> str:
    """The job-array script of study ``study_name`` whose run folder is ``output_dir``: each
    task runs ``hpo worker`` on the study's saved config."""
    folder = slurm_folder(output_dir).absolute()
    config_file = RunLayout(output_dir).config_file.absolute()
    python = python or sys.executable
    worker = f"{shlex.quote(python)} -m hpo.cli worker {shlex.quote(str(config_file))} --quiet"
    env_lines = [
        # Each task's share of the node's cores, not one thread per core of the whole node.
        'export OMP_NUM_THREADS="${SLURM_CPUS_PER_TASK:-1}"',
        'export MKL_NUM_THREADS="${SLURM_CPUS_PER_TASK:-1}"',
    ]
    for key in ("HF_HOME", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HPO_CACHE"):
        if key in os.environ:  # what this shell found its models and caches with
            env_lines.append(f"export {key}={shlex.quote(os.environ[key])}")
    return "\n".join(
        [
            "#!/bin/bash",
            f"# Written by `hpo launch slurm` for study {study_name!r}; resubmit with",
            f"#   sbatch {shlex.quote(str(folder / 'worker.sbatch'))}",
            *job.directives(f"hpo-{study_name}", folder / "logs"),
            "",
            "set -u",
            f"cd {shlex.quote(str(Path.cwd()))}",
            *env_lines,
            'echo "hpo worker: task ${SLURM_ARRAY_TASK_ID:-?} of job '
            '${SLURM_ARRAY_JOB_ID:-?} on $(hostname)"',
            worker,
            "code=$?",
            f'if [ $code -eq {EXIT_UNREACHABLE} ] && [ -n "${{SLURM_JOB_ID:-}}" ]; then',
            "    # The database stayed out of reach for the grace period: another worker reruns",
            "    # the trial; this task goes back in the queue to join again later.",
            '    scontrol requeue "$SLURM_JOB_ID"',
            "fi",
            "exit $code",
            "",
        ]
    )


def write_script(study_name: str, output_dir: Path, job: SlurmJob) -> Path:
    """Write ``runs/<study>/slurm/worker.sbatch`` (and its ``logs/`` folder); its path."""
    folder = slurm_folder(output_dir)
    (folder / "logs").mkdir(parents=True, exist_ok=True)
    path = folder / "worker.sbatch"
    path.write_text(render_script(study_name, output_dir, job), encoding="utf-8")
    path.chmod(0o700)  # it may hold a storage URL with a password, as config.yaml does
    return path


def check_storage(url: str) -> None:
    """Refuse a storage URL the workers of a cluster cannot share safely."""
    if url.startswith("sqlite"):
        raise HpoError(
            f"study.storage: {url} is a SQLite file; workers on several nodes would share it "
            "over a network file system, which SQLite's locking does not survive. Pass "
            "--storage postgresql://user:pass@host/db (a server every node reaches)."
        )


def submit(script: Path) -> str:
    """``sbatch --parsable SCRIPT``; the job id."""
    sbatch = shutil.which("sbatch")
    if sbatch is None:
        raise HpoError(
            "sbatch: not found on PATH. Run `hpo launch slurm` on a node that submits Slurm "
            f"jobs, or add --dry-run to only write the script ({script})."
        )
    done = subprocess.run([sbatch, "--parsable", str(script)], capture_output=True, text=True)
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip().splitlines()
        raise HpoError(
            f"sbatch refused {script}: {reason[-1] if reason else f'exit {done.returncode}'}. "
            "Fix the option it names (--partition, --time, --sbatch-arg) and launch again."
        )
    return done.stdout.strip().split(";")[0]  # "id" or "id;cluster"


def launch(config: HpoConfig, job: SlurmJob, *, dry_run: bool = False) -> tuple[Path, str | None]:
    """Prepare the study, write the job script and (unless ``dry_run``) submit it.

    Returns the script's path and the job id (None for a dry run). A dry run writes the script
    and the config its tasks run (``runs/<study>/config.yaml``), and touches no database,
    cache or queue.
    """
    check_storage(config.storage_url)
    if dry_run:
        layout = RunLayout(config.output_dir)
        write_atomically(layout.config_file, config.to_yaml(absolute=True))
        return write_script(config.study.name, config.output_dir, job), None
    from hpo.search.loop import load_search_data, open_and_seed

    _, prepared = load_search_data(config.model, config.data, config.study.metric)
    open_and_seed(config, prepared)  # also writes runs/<study>/config.yaml, the tasks' config
    script = write_script(config.study.name, config.output_dir, job)
    return script, submit(script)
