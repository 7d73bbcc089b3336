"""`hpo launch slurm` (hpo.search.launch): the job script, the checks before it, and
sbatch's answers (a real Slurm runs it in tests/e2e/test_slurm.py)."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
from pathlib import Path

import pytest

from hpo.api import load_config
from hpo.cli import main
from hpo.errors import HpoError
from hpo.search.launch import SlurmJob, launch, render_final_script, render_script, submit

PG = "postgresql://u:secret@db.example:5432/hpo"


def _fake_sbatch(folder: Path, body: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    sbatch = folder / "sbatch"
    sbatch.write_text(f"#!/bin/sh\n{body}\n")
    sbatch.chmod(sbatch.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return sbatch


def test_the_script_runs_a_worker_per_array_task_on_the_saved_config(make_config) -> None:
    config = load_config(make_config({"study": {"storage": PG, "name": "lab"}}))
    job = SlurmJob(
        workers=8,
        cpus_per_worker=4,
        gpus_per_worker=1,
        partition="gpu",
        time="4:00:00",
        max_parallel=3,
        sbatch_args=("--account=nlp",),
    )
    script = render_script(config.study.name, config.output_dir, job, python="/opt/venv/bin/python")
    directives = [line for line in script.splitlines() if line.startswith("#SBATCH")]
    assert directives == [
        "#SBATCH --job-name=hpo-lab",
        "#SBATCH --array=0-7%3",
        "#SBATCH --ntasks=1",
        "#SBATCH --cpus-per-task=4",
        f"#SBATCH --output={config.output_dir.absolute()}/slurm/logs/%A_%a.out",
        "#SBATCH --open-mode=append",
        "#SBATCH --requeue",
        "#SBATCH --gres=gpu:1",
        "#SBATCH --partition=gpu",
        "#SBATCH --time=4:00:00",
        "#SBATCH --account=nlp",
    ]
    saved = config.output_dir.absolute() / "config.yaml"
    assert f"/opt/venv/bin/python -m hpo.cli worker {saved} --quiet" in script
    assert 'export OMP_NUM_THREADS="${SLURM_CPUS_PER_TASK:-1}"' in script
    assert "if [ $code -eq 75 ]" in script and 'scontrol requeue "$SLURM_JOB_ID"' in script
    assert "secret" not in script, "the URL is read from the saved config, not the script"


@pytest.mark.parametrize(
    ("job", "message"),
    [
        ({"workers": 0}, "--workers must be >= 1, got 0"),
        ({"workers": 2, "gpus_per_worker": -1}, "--gpus-per-worker must be >= 0"),
        ({"workers": 2, "time": "two hours"}, "--time: 'two hours' is not a Slurm time limit"),
    ],
)
def test_bad_job_options_are_one_line(job: dict, message: str) -> None:
    with pytest.raises(HpoError, match=message):
        SlurmJob(**job)


@pytest.mark.parametrize("more", [["--dry-run"], ["--budget", "10m"]])
def test_sqlite_is_refused_before_anything_is_written(
    more: list[str], make_config, capsys: pytest.CaptureFixture[str], tmp_path
) -> None:
    path = make_config({"data": {"cache_dir": str(tmp_path / "cache")}})
    code = main(["launch", "slurm", str(path), "--workers", "3", *more])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "is a SQLite file" in err[0] and "--storage postgresql://" in err[0]
    assert not (load_config(path).output_dir / "slurm").exists()
    assert not (tmp_path / "cache").exists(), "nor is the machine measured"


@pytest.fixture
def sbatch_called(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A fake sbatch on PATH that leaves this file behind when it is called."""
    called = tmp_path / "sbatch-called"
    _fake_sbatch(tmp_path / "bin", f"touch {called}; echo 1", monkeypatch)
    return called


def test_dry_run_writes_the_script_and_its_config_only(
    make_config, capsys: pytest.CaptureFixture[str], sbatch_called: Path
) -> None:
    called = sbatch_called
    path = make_config({"study": {"storage": PG}})
    config = load_config(path)
    assert main(["launch", "slurm", str(path), "--workers", "2", "--dry-run"]) == 0
    script = config.output_dir / "slurm" / "worker.sbatch"
    assert f"wrote {script.absolute()} (not submitted)" in capsys.readouterr().out
    assert script.is_file() and stat.S_IMODE(script.stat().st_mode) == 0o700
    assert (config.output_dir / "config.yaml").is_file()
    assert not called.exists(), "a dry run submits nothing"
    assert not (Path(config.data.cache_dir)).exists(), "nor tokenizes anything"


def test_sbatch_missing_says_where_to_run_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(HpoError, match=r"sbatch: not found on PATH.*--dry-run"):
        submit(tmp_path / "worker.sbatch")


def test_sbatch_refusal_is_its_last_line(tmp_path: Path, monkeypatch) -> None:
    _fake_sbatch(
        tmp_path,
        'echo "sbatch: error: Batch job submission failed: Invalid partition name '
        'specified" >&2; exit 1',
        monkeypatch,
    )
    refused = r"sbatch refused .*: sbatch: error: .*: Invalid partition name specified\. Fix"
    with pytest.raises(HpoError, match=refused):
        submit(tmp_path / "worker.sbatch")


def test_the_job_id_is_read_from_parsable_output(tmp_path: Path, monkeypatch) -> None:
    _fake_sbatch(tmp_path, 'echo "4242;cluster-a"', monkeypatch)
    assert submit(tmp_path / "worker.sbatch") == "4242"


def test_a_budgeted_array_plans_in_task_0_and_the_final_job_goes_on_after_it(make_config) -> None:
    config = load_config(make_config({"study": {"storage": PG, "name": "lab", "budget": "2h"}}))
    job = SlurmJob(workers=4, cpus_per_worker=2, time="3:00:00", max_parallel=2)
    script = render_script("lab", config.output_dir, job, python="/py", budgeted=True)
    job_yaml = config.output_dir.absolute() / "slurm" / "job.yaml"
    assert '"${SLURM_ARRAY_TASK_ID:-0}" = 0' in script
    assert f"/py -m hpo.cli run {job_yaml} --part search" in script
    assert f"/py -m hpo.cli worker {job_yaml}" in script
    assert 'scancel --state=PENDING "$SLURM_ARRAY_JOB_ID"' in script
    assert "[ $code -ne 0 ] && [ $code -ne 75 ]" in script  # a failed task 0 ends the array
    assert "#SBATCH --array=0-3%2" in script
    final = render_final_script("lab", config.output_dir, job, python="/py")
    directives = [line for line in final.splitlines() if line.startswith("#SBATCH")]
    assert "#SBATCH --job-name=hpo-lab-final" in directives
    assert "#SBATCH --cpus-per-task=2" in directives and "#SBATCH --time=3:00:00" in directives
    assert not any("--array" in line for line in directives)
    assert any(line.endswith("/slurm/logs/%j_final.out") for line in directives)
    assert f"exec /py -m hpo.cli run {job_yaml} --part final" in final
    # The plain array is unchanged: no task plans, none cancels the others.
    plain = render_script("lab", config.output_dir, job, python="/py")
    assert "--part" not in plain and "scancel" not in plain


def test_a_budgeted_dry_run_writes_both_scripts_and_the_jobs_config(
    make_config, capsys: pytest.CaptureFixture[str]
) -> None:
    path = make_config({"study": {"storage": PG}})
    argv = ["launch", "slurm", str(path), "--workers", "3", "--budget", "3m", "--dry-run"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    folder = load_config(path).output_dir / "slurm"
    assert "sbatch --dependency=afterany:$jid" in out and str(folder.absolute()) in out
    saved = (folder / "job.yaml").read_text(encoding="utf-8")
    assert "budget: 3m" in saved and "workers: 3" in saved
    assert stat.S_IMODE((folder / "job.yaml").stat().st_mode) == 0o600  # read, never run
    assert stat.S_IMODE((folder / "final.sbatch").stat().st_mode) == 0o700


def test_the_final_job_is_submitted_after_the_array(
    make_config, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls = tmp_path / "calls"
    _fake_sbatch(
        tmp_path / "bin", f'echo "$@" >> {calls}; echo $((100 + $(wc -l < {calls})))', monkeypatch
    )
    monkeypatch.setattr("hpo.search.storage.make_storage", lambda url: None)
    config = load_config(make_config({"study": {"storage": PG, "budget": "3m", "workers": 2}}))
    given = config.to_yaml(absolute=True, given=True)
    done = launch(config.study_setup, config.model, config.data, SlurmJob(workers=2), given=given)
    lines = calls.read_text().splitlines()
    assert lines[0].endswith("worker.sbatch") and done.job_id == "101"
    assert "--dependency=afterany:101" in lines[1] and lines[1].endswith("final.sbatch")
    assert done.final_job_id == "102"
    record = json.loads((config.output_dir / "slurm" / "submitted.json").read_text())
    assert record["array_job"] == "101" and record["final_job"] == "102"


def test_a_budget_too_small_for_the_workers_is_refused_before_anything_is_written(
    make_config, capsys: pytest.CaptureFixture[str], sbatch_called: Path
) -> None:
    called = sbatch_called
    path = make_config({"study": {"storage": PG}})
    assert main(["launch", "slurm", str(path), "--workers", "3", "--budget", "2s"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "too small" in err[0] and "--budget" in err[0], err
    assert not called.exists() and not load_config(path).output_dir.exists()


def test_the_jobs_config_keeps_only_what_the_user_set(make_config) -> None:
    path = make_config({"study": {"storage": PG, "budget": "1h"}, "data": {"max_length": 48}})
    config = load_config(path, ["training.seed=7"])
    config = dataclasses.replace(config, study=dataclasses.replace(config.study, workers=4))
    again = load_config(_written(config))
    assert again.explicit == config.explicit | {"study.workers"}
    assert again.to_dict(absolute=True) == config.to_dict(absolute=True)
    assert "truncation" not in config.to_yaml(absolute=True, given=True), (
        "a key the planner fills stays open"
    )


def _written(config) -> Path:
    folder = config.output_dir / "slurm"
    folder.mkdir(parents=True)
    (folder / "job.yaml").write_text(config.to_yaml(absolute=True, given=True), encoding="utf-8")
    return folder / "job.yaml"
