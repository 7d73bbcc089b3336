"""``hpo launch slurm`` on a real one-node Slurm cluster (.ci/start_slurm.sh) with a real
PostgreSQL (.ci/start_postgres.sh): the array finishes the study exactly, and a task cancelled
mid-trial loses nothing."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from exact import check_exact
from optuna.trial import TrialState

from hpo.api import load_config
from hpo.cli import main
from hpo.search.resilient import fail_reason

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (os.environ.get("HPO_TEST_SLURM_CONF") and os.environ.get("HPO_TEST_POSTGRES_URL")),
        reason="set HPO_TEST_SLURM_CONF and HPO_TEST_POSTGRES_URL (.ci/run starts both)",
    ),
]

#: Trials long enough to cancel one mid-way, heartbeats fast enough to rerun it in seconds.
STUDY = {
    "study": {"n_trials": 4, "heartbeat_interval": 1, "grace_period": 4},
    "search_space": {"num_train_epochs": {"low": 2, "high": 3}},
}


LAUNCH = ("--cpus-per-worker", "1", "--time", "20", "--workers")


def _env() -> dict[str, str]:
    return {**os.environ, "SLURM_CONF": os.environ["HPO_TEST_SLURM_CONF"]}


def _launch(make_config, workers: int) -> tuple[Path, str, str]:
    url = os.environ["HPO_TEST_POSTGRES_URL"]
    name = f"slurm-{os.getpid()}-{random.randrange(10**6)}"
    path = make_config({**STUDY, "study": {**STUDY["study"], "name": name, "storage": url}})
    done = subprocess.run(
        [sys.executable, "-m", "hpo.cli", "launch", "slurm", str(path), *LAUNCH, str(workers)],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    job = re.search(r"submitted job (\d+)", done.stdout)
    assert job, done.stdout
    assert f"squeue -j {job.group(1)}" in done.stdout and f"scancel {job.group(1)}" in done.stdout
    return path, name, job.group(1)


def _tasks(job: str) -> dict[str, str]:
    """Array task id -> state, of the job's tasks still in the queue."""
    out = subprocess.run(
        ["squeue", "-h", "-r", "-j", job, "-o", "%K %T"],
        capture_output=True,
        text=True,
        env=_env(),
        check=True,
    ).stdout
    return dict(line.split() for line in out.splitlines() if line.strip())


def _wait_gone(job: str, timeout: float = 900.0) -> None:
    deadline = time.monotonic() + timeout
    while _tasks(job):
        assert time.monotonic() < deadline, f"job {job} still queued: {_tasks(job)}"
        time.sleep(1.0)


def _logs(path: Path, job: str) -> list[Path]:
    return sorted((load_config(path).output_dir / "slurm" / "logs").glob(f"{job}_*.out"))


def test_three_array_tasks_finish_the_study_exactly(make_config) -> None:
    path, name, job = _launch(make_config, workers=3)
    _wait_gone(job)
    study = optuna.load_study(study_name=name, storage=os.environ["HPO_TEST_POSTGRES_URL"])
    check_exact(study, 4)
    logs = _logs(path, job)
    assert len(logs) == 3, logs
    for log in logs:
        text = log.read_text()
        assert "hpo worker: task" in text and "Traceback" not in text, text[-2000:]
    accounting = subprocess.run(
        ["scontrol", "show", "job", job], capture_output=True, text=True, env=_env()
    ).stdout
    assert "ExitCode=0:0" in accounting and "FAILED" not in accounting, accounting


def test_a_task_cancelled_mid_trial_is_rerun_and_the_count_stays_exact(make_config) -> None:
    _, name, job = _launch(make_config, workers=3)
    url = os.environ["HPO_TEST_POSTGRES_URL"]
    deadline = time.monotonic() + 600
    while True:  # every task in a trial, one of them past its first evaluation
        assert time.monotonic() < deadline, "the three tasks never trained at once"
        running = [
            t
            for t in optuna.load_study(study_name=name, storage=url).trials
            if t.state == TrialState.RUNNING
        ]
        if len(running) == 3 and any(t.intermediate_values for t in running):
            break
        time.sleep(0.5)
    subprocess.run(["scancel", f"{job}_0"], check=True, env=_env())
    _wait_gone(job)
    study = optuna.load_study(study_name=name, storage=url)
    check_exact(study, 4)
    failed = [t for t in study.trials if t.state == TrialState.FAIL]
    assert failed, "the cancelled task's trial is failed"
    assert any("SIGTERM" in (fail_reason(study, t) or "") for t in failed), [
        fail_reason(study, t) for t in failed
    ]
    for trial in failed:
        rerun = [t for t in study.trials if t.system_attrs.get("failed_trial") == trial.number]
        assert len(rerun) == 1 and rerun[0].params == trial.params, "rerun once, same params"
        assert rerun[0].state in (TrialState.COMPLETE, TrialState.PRUNED)


def test_a_budgeted_launch_runs_the_whole_job_within_its_budget(
    tmp_path: Path, monkeypatch
) -> None:
    """`hpo launch slurm study_configs/smoke.yaml --workers 3 --budget 3m`: task 0 plans on the
    node, the array searches within the share, the final job after it writes the report, all
    within the budget + 5%; a worker that starts after the share has ended runs nothing."""
    url = os.environ["HPO_TEST_POSTGRES_URL"]
    name = f"slurm-budget-{os.getpid()}-{random.randrange(10**6)}"
    smoke = Path(__file__).resolve().parents[2] / "study_configs" / "smoke.yaml"
    argv = [sys.executable, "-m", "hpo.cli", "launch", "slurm", str(smoke)]
    argv += ["--study-name", name, "--storage", url, "--workers", "3", "--budget", "3m"]
    argv += ["--set", f"data.cache_dir={tmp_path / 'cache'}"]
    env = {**_env(), "HPO_CACHE": str(tmp_path / "hpo-cache")}
    start = time.time()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    jobs = re.findall(r"submitted job (\d+)", done.stdout)
    assert len(jobs) == 2, done.stdout
    array, final = jobs
    assert f"squeue -j {array},{final}" in done.stdout
    _wait_gone(array, timeout=400)
    _wait_gone(final, timeout=400)
    took = time.time() - start
    runs = tmp_path / "runs" / name
    folder = runs / "slurm" / "logs"
    logs = {p.name: p.read_text() for p in folder.glob("*.out")}
    final_log = logs.get(f"{final}_final.out", "")
    assert "report: " in final_log and "Traceback" not in final_log, final_log[-3000:]
    assert (runs / "report.md").is_file() and (runs / "final" / "metrics.json").is_file()
    plan = json.loads((runs / "plan.json").read_text())
    study = optuna.load_study(study_name=name, storage=url)
    assert plan["started"] == study.user_attrs["search_share"]["started"]
    assert plan["workers"] == 3 and plan["elapsed_seconds"] <= 180 * 1.05, plan["actual_seconds"]
    assert took <= 180 * 1.05, (took, plan["actual_seconds"], plan["events"])
    for log in logs.values():
        assert "Traceback" not in log, log[-3000:]
    # The other tasks waited for task 0's plan and ran it, not the config as given.
    joined = [
        log for log in logs.values() if "hpo worker: task 0 " not in log and "hpo final:" not in log
    ]
    assert joined and all("Running the config the budgeted run planned" in log for log in joined)
    # Later workers: the share has ended; each exits 0 at once and starts no trial.
    trials = len(study.trials)
    monkeypatch.chdir(tmp_path)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert main(["worker", str(runs / "slurm" / "job.yaml"), "--quiet"]) == 0
    assert len(optuna.load_study(study_name=name, storage=url).trials) == trials
