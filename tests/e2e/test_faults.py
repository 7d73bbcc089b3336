"""Crashes, interrupts, parallel workers and bad input: nothing lost, nothing run twice."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest
import torch
from exact import check_exact
from optuna.trial import TrialState
from sqlalchemy.exc import OperationalError

from hpo.api import load_config
from hpo.cli import main
from hpo.runs import RunLayout
from hpo.search.loop import run_search
from hpo.search.storage import make_storage
from hpo.train.trainer import HpoTrainer

# Fast heartbeats so a killed worker's trial is declared dead within seconds.
CRASHY = {
    "study": {"n_trials": 4, "heartbeat_interval": 1, "grace_period": 3},
    "search_space": {"num_train_epochs": {"low": 2, "high": 3}},
}


def _study(path: Path) -> optuna.Study:
    config = load_config(path)
    db = config.storage_url.removeprefix("sqlite:///")
    if db != config.storage_url and not Path(db).exists():
        # Opening a missing SQLite file would create it under the process being watched.
        raise KeyError("no database yet")
    # hpo's own opener: it retries the table-creation race with the search creating the file.
    return optuna.load_study(study_name=config.study.name, storage=make_storage(config.storage_url))


def _spawn(*argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "hpo.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell without job control starts background jobs with SIGINT ignored, and the
        # child would inherit that (pytest run as `cmd &`): give it Ctrl-C as a terminal does.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _wait_for(
    predicate: Callable[[], bool], proc: subprocess.Popen[str], timeout: float = 180.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"hpo exited early ({proc.returncode}): {proc.stderr.read()}")
        try:
            if predicate():
                return
        except (KeyError, ValueError, OperationalError):  # the study does not exist yet
            pass
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")


def _running_with_progress(path: Path) -> bool:
    return any(t.state == TrialState.RUNNING and t.intermediate_values for t in _study(path).trials)


@pytest.mark.slow
def test_kill_9_mid_trial_then_resume(make_config) -> None:
    path = make_config(CRASHY)
    proc = _spawn("search", str(path), "--quiet")
    _wait_for(lambda: _running_with_progress(path), proc)
    before = {t.number: t.value for t in _study(path).trials if t.state == TrialState.COMPLETE}
    killed = next(t for t in _study(path).trials if t.state == TrialState.RUNNING)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert _study(path).trials[killed.number].state == TrialState.RUNNING  # left behind

    study = run_search(load_config(path), quiet=True)
    check_exact(study, 4)
    for number, value in before.items():
        assert study.trials[number].value == value, "completed trials are kept as they were"
    assert study.trials[killed.number].state == TrialState.FAIL
    retry = [t for t in study.trials if t.system_attrs.get("failed_trial") == killed.number]
    assert len(retry) == 1 and retry[0].params == killed.params, "rerun with the same params"


@pytest.mark.slow
def test_ctrl_c_fails_the_trial_requeues_it_and_says_so_in_one_line(make_config) -> None:
    path = make_config(CRASHY)
    proc = _spawn("search", str(path), "--quiet")
    _wait_for(lambda: _running_with_progress(path), proc)
    interrupted = next(t for t in _study(path).trials if t.state == TrialState.RUNNING)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines == [
        f"hpo: interrupted: trial {interrupted.number} is marked FAILED and its params are "
        f"queued to run first; run the same command again to resume (or `hpo search "
        f"{load_config(path).output_dir / 'config.yaml'}`)."
    ], err[-3000:]
    trials = _study(path).trials
    assert TrialState.RUNNING not in [t.state for t in trials]
    assert trials[interrupted.number].state == TrialState.FAIL
    queued = [t for t in trials if t.state == TrialState.WAITING]
    assert len(queued) == 1 and queued[0].params == interrupted.params
    assert queued[0].system_attrs["failed_trial"] == interrupted.number

    # The next search trains those params first, and the study ends exact.
    study = run_search(load_config(path), quiet=True)
    check_exact(study, 4)
    rerun = study.trials[queued[0].number]
    assert rerun.state in (TrialState.COMPLETE, TrialState.PRUNED)
    assert rerun.params == interrupted.params
    assert rerun.number == interrupted.number + 1, "the rerun is the next trial that trains"


def test_ctrl_c_with_debug_shows_the_traceback(make_config) -> None:
    path = make_config(CRASHY)
    proc = _spawn("--debug", "search", str(path), "--quiet")
    _wait_for(lambda: _running_with_progress(path), proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "Traceback (most recent call last)" in err and "Interrupted" in err


@pytest.mark.slow
def test_out_of_memory_fails_one_trial_only(make_config, monkeypatch: pytest.MonkeyPatch) -> None:
    original = HpoTrainer.training_step

    def flaky_step(self: HpoTrainer, *args: Any, **kwargs: Any) -> torch.Tensor:
        if self._trial is not None and self._trial.number == 0:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(HpoTrainer, "training_step", flaky_step)
    study = run_search(load_config(make_config()), quiet=True)
    assert [t.state for t in study.trials] == [TrialState.FAIL, *[TrialState.COMPLETE] * 2]


@pytest.mark.slow
def test_workers_share_one_sqlite_study(make_config, capsys: pytest.CaptureFixture[str]) -> None:
    path = make_config({"study": {"n_trials": 6}})
    assert main(["search", str(path), "--workers", "3", "--quiet"]) == 0
    study = _study(path)
    check_exact(study, 6)
    counted = [t for t in study.trials if t.state == TrialState.COMPLETE]
    # Every failure is a surplus trial that never trained.
    for t in study.trials:
        if t.state == TrialState.FAIL:
            assert t.user_attrs.get("surplus") and not t.intermediate_values
    assert len({t.number for t in counted}) == 6


@pytest.mark.faults
def test_fault_injection_kill_resume_cycles(make_config) -> None:
    """Kill -9 at random points of a tiny search, three times, then finish it. (Each
    cycle costs a process start; what it checks is the same at every kill.)"""
    path = make_config({**CRASHY, "study": {**CRASHY["study"], "n_trials": 6}})
    rng = random.Random(1234)
    completed: dict[int, float | None] = {}
    cycles = 0
    for _ in range(3):
        proc = _spawn("search", str(path), "--quiet")
        _wait_for(lambda: any(t.state == TrialState.RUNNING for t in _study(path).trials), proc)
        time.sleep(rng.uniform(0.0, 4.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        cycles += 1
        for t in _study(path).trials:
            if t.state == TrialState.COMPLETE:
                assert completed.setdefault(t.number, t.value) == t.value
            else:
                assert t.number not in completed, "a completed trial changed state"
    study = run_search(load_config(path), quiet=True)
    check_exact(study, 6)
    for number, value in completed.items():
        assert study.trials[number].value == value
    assert cycles == 3


@pytest.mark.faults
@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root (.ci/run is root)")
def test_a_full_disk_fails_its_trial_with_the_reason_and_the_next_worker_reruns_it(
    make_config,
) -> None:
    pytest.importorskip("tensorboard")
    path = make_config({"study": {"n_trials": 2}, "training": {"report_to": ["tensorboard"]}})
    full = RunLayout(load_config(path).output_dir).root / "tensorboard"  # what the trials write
    full.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(full)], check=True)
    try:
        with contextlib.suppress(OSError), (full / "filler").open("wb") as filler:
            while True:
                filler.write(b"\0" * 4096)
                filler.flush()
        proc = subprocess.run(
            [sys.executable, "-m", "hpo.cli", "search", str(path), "--quiet"],
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        subprocess.run(["umount", str(full)], check=True)
    assert proc.returncode == 74, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("hpo: error: trial 0: no space left on this machine"), proc.stderr
    assert "queued for another worker" in last
    trials = _study(path).trials
    assert trials[0].state == TrialState.FAIL
    assert "No space left on device" in trials[0].user_attrs["fail_reason"]
    queued = [t for t in trials if t.state == TrialState.WAITING]
    assert len(queued) == 1 and queued[0].params == trials[0].params
    assert queued[0].system_attrs["failed_trial"] == 0

    # A worker with room trains those params first, and the study ends exact.
    assert main(["search", str(path), "--quiet"]) == 0
    study = check_exact(_study(path), 2)
    assert study.trials[queued[0].number].state in (TrialState.COMPLETE, TrialState.PRUNED)
