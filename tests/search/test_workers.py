"""Worker processes on one machine: one GPU each, or an even share of the CPU threads."""

from __future__ import annotations

from hpo.search.workers import worker_env


def test_gpus_round_robin() -> None:
    envs = [worker_env(i, 3, n_gpus=2, n_cpus=16) for i in range(3)]
    assert [e["CUDA_VISIBLE_DEVICES"] for e in envs] == ["0", "1", "0"]


def test_cpu_threads_are_shared_evenly_and_never_zero() -> None:
    env = worker_env(0, 4, n_gpus=0, n_cpus=16)
    assert env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "4"
    assert worker_env(0, 4, n_gpus=0, n_cpus=2)["OMP_NUM_THREADS"] == "1"
