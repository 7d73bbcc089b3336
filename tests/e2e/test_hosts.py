"""Faults across hosts: workers in network namespaces of their own against PostgreSQL in
another (tests/e2e/hosts.py). Each scenario ends with no trial RUNNING, COMPLETE + PRUNED =
n_trials, every FAILED trial carrying its reason, no worker hung, and no params set counted
twice."""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from exact import check_exact
from hosts import Network, Worker, available, wait_until
from optuna.trial import TrialState
from sqlalchemy import create_engine, text

from hpo.search.resilient import EXIT_UNREACHABLE, fail_reason

pytestmark = [pytest.mark.faults, pytest.mark.skipif(bool(available()), reason=available() or "")]

HEARTBEAT, GRACE = 1, 4
#: Trials of a few seconds, heartbeats fast enough to rerun a lost trial within seconds.
STUDY = {
    "study": {"n_trials": 4, "heartbeat_interval": HEARTBEAT, "grace_period": GRACE},
    "search_space": {"num_train_epochs": {"low": 2, "high": 3}},
}


@pytest.fixture(scope="module")
def net() -> Iterator[Network]:
    network = Network(n_hosts=3)
    try:
        yield network.up()
    finally:
        network.down()


def _config(make_config, net: Network, **study: object) -> tuple[Path, str]:
    name = f"hosts-{random.randrange(10**9)}"
    update = {**STUDY, "study": {**STUDY["study"], "name": name, "storage": net.url(0), **study}}
    return make_config(update), name


def _workers(net: Network, path: Path, hosts: list[int]) -> list[Worker]:
    return [
        net.spawn(host, "worker", str(path), "--storage", net.url(host), "--quiet")
        for host in hosts
    ]


def _study(net: Network, name: str, url: str | None = None) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=url or net.url(0))


def _running_on_progress(net: Network, name: str) -> list[optuna.trial.FrozenTrial]:
    return [
        t
        for t in _study(net, name).get_trials(deepcopy=False)
        if t.state == TrialState.RUNNING and t.intermediate_values
    ]


def _check(net: Network, name: str, n_trials: int = 4, url: str | None = None) -> optuna.Study:
    return check_exact(_study(net, name, url), n_trials)


def test_a_host_killed_mid_trial(make_config, net: Network) -> None:
    path, name = _config(make_config, net)
    victim, other = _workers(net, path, [1, 2])
    wait_until(lambda: len(_running_on_progress(net, name)) == 2)
    victim.signal(signal.SIGKILL)
    assert victim.wait(30) == -signal.SIGKILL
    assert other.wait(600) == 0, other.output()[-3000:]
    study = _check(net, name)
    lost = [t for t in study.trials if t.state == TrialState.FAIL]
    assert len(lost) == 1 and "worker lost" in fail_reason(study, lost[0])


def test_a_host_frozen_past_the_grace_period_then_resumed(make_config, net: Network) -> None:
    path, name = _config(make_config, net)
    frozen, other = _workers(net, path, [1, 2])
    wait_until(lambda: len(_running_on_progress(net, name)) == 2)
    frozen.signal(signal.SIGSTOP)
    time.sleep(2.5 * GRACE)
    frozen.signal(signal.SIGCONT)
    assert other.wait(600) == 0, other.output()[-3000:]
    assert frozen.wait(120) == 0, "the resumed worker survives: " + frozen.output()[-3000:]
    assert "failed as stale while this worker was out of touch" in frozen.output()
    study = _check(net, name)
    assert any("worker lost" in (fail_reason(study, t) or "") for t in study.trials)


def test_the_database_restarted_again_and_again(make_config, net: Network) -> None:
    """Stopped (immediate mode) for 3 s every 8 s while trials train, report, heartbeat and
    tell: every one of those meets a restart at some point. The first stop comes as soon as a
    trial reports: trials of a few seconds could all end before a first stop that waited."""
    path, name = _config(make_config, net, grace_period=20)
    workers = _workers(net, path, [1, 2])
    stop = threading.Event()

    def flap() -> None:
        while True:
            net.pg("stop", "-m", "immediate")
            time.sleep(3.0)
            net.pg("start")  # waits until it accepts connections (crash recovery first)
            if stop.wait(5.0):
                return

    wait_until(lambda: len(_running_on_progress(net, name)) >= 1)
    flapper = threading.Thread(target=flap)
    flapper.start()
    try:
        for worker in workers:
            assert worker.wait(900) == 0, worker.output()[-3000:]
    finally:
        stop.set()
        flapper.join()
    logs = "".join(worker.output() for worker in workers)
    assert "Database unreachable in" in logs, "the outages were met and waited out"
    _check(net, name)


def test_a_host_cut_off_for_twice_the_grace_period(make_config, net: Network) -> None:
    path, name = _config(make_config, net)
    cut, other = _workers(net, path, [1, 2])
    wait_until(lambda: len(_running_on_progress(net, name)) == 2)
    net.cut(1)
    try:
        time.sleep(2 * GRACE)
    finally:
        net.heal(1)
    assert other.wait(600) == 0, other.output()[-3000:]
    code = cut.wait(180)
    print(f"cut-off worker exited {code}")  # the README's scenario table (pytest -s)
    # It either outlived the cut (its stale result refused once healed) or gave up its trial
    # after the grace period with the scheduler's retry code and one line saying why.
    assert code in (0, EXIT_UNREACHABLE), cut.output()[-3000:]
    if code == EXIT_UNREACHABLE:
        assert "hpo: error: study.storage: the database did not answer for" in cut.output()
    study = _check(net, name)
    assert any("worker lost" in (fail_reason(study, t) or "") for t in study.trials)


def test_sixteen_workers_start_at_once_on_an_empty_database(
    make_config, net: Network, delete: object
) -> None:
    db = f"empty{random.randrange(10**9)}"
    admin = create_engine(net.url(0, "hpo"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {db}"))
    name = f"sixteen-{random.randrange(10**9)}"
    url = net.url(0, db)
    path = make_config(
        {
            # Fewer trials than workers: the rest find the study full and exit 0.
            "study": {"name": name, "storage": url, "n_trials": 4, "heartbeat_interval": 2},
            "search_space": {"num_train_epochs": delete},
            "training": {"num_train_epochs": 1},
        }
    )
    peak = [0]
    stop = threading.Event()

    def count() -> None:
        with admin.connect() as conn:
            while not stop.wait(0.2):
                n = conn.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE datname = :db"), {"db": db}
                ).scalar_one()
                peak[0] = max(peak[0], int(n))

    counter = threading.Thread(target=count)
    counter.start()
    began = time.monotonic()
    workers = [net.spawn(0, "worker", str(path), "--quiet") for _ in range(16)]
    assert time.monotonic() - began < 1.0, "all sixteen started within one second"
    try:
        codes = [worker.wait(900) for worker in workers]
    finally:
        stop.set()
        counter.join()
    logs = "".join(worker.output() for worker in workers)
    assert codes == [0] * 16, logs[-4000:]
    assert "IntegrityError" not in logs and "deadlock" not in logs.lower()
    assert optuna.get_all_study_names(url) == [name]
    _check(net, name, n_trials=4, url=url)
    with admin.connect() as conn:
        limit = int(conn.execute(text("SHOW max_connections")).scalar_one())
    print(f"16 workers: peak {peak[0]} connections of {limit}")  # the README's table (pytest -s)
    assert 0 < peak[0] <= 3 * 16 < limit, f"peak {peak[0]} connections of {limit}"
