"""A budgeted search's deadline is stored on the study, and every worker keeps it: a worker
that joins after the share has ended starts no trial, and one that brings another budget is
refused."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import optuna
import pytest

from hpo.api import load_config
from hpo.cli.entry import main
from hpo.errors import ConfigError
from hpo.search.deadline import BUDGET_CLOSED_ATTR, out_of_time
from hpo.search.loop import run_search
from hpo.search.share import (
    SHARE_ATTR,
    SearchShare,
    refuse_other_budget,
    share_clock,
    stored_share,
    wait_for_share,
)
from hpo.search.storage import make_storage


def _study() -> optuna.Study:
    return optuna.create_study(direction="maximize")


def _section(budget: object = None) -> SimpleNamespace:
    return SimpleNamespace(name="s", budget=budget)


def test_a_share_is_stored_and_read_back_and_small_moves_are_not_rewritten() -> None:
    study = _study()
    assert SearchShare.of(study) is None
    SearchShare(1000.0, 1800.0, 30.0).publish(study)
    assert SearchShare.of(study) == SearchShare(1000.0, 1800.0, 30.0)
    SearchShare(1000.4, 1800.0, 30.0).publish(study)  # under a second: not written again
    assert SearchShare.of(study).ends_at == 1000.0
    SearchShare(990.0, 1800.0, 30.0).publish(study)
    assert study.user_attrs[SHARE_ATTR]["ends_at"] == 990.0


def test_the_owner_publishes_its_deadline_and_a_worker_reads_it_every_time() -> None:
    study = _study()
    owner = share_clock(study, _section("30m"), lambda s: 5000.0, 12.0, worker=False)
    assert not owner.joined and owner.due(study) == 5000.0
    worker = share_clock(study, _section(None), None, 0.0, worker=True)
    assert worker.joined and worker.due(study) == 5000.0 and worker.shortest_trial == 12.0
    SearchShare(4000.0, 1800.0, 12.0).publish(study)  # the owner moved it
    assert worker.due(study) == 4000.0
    # Not a worker and no budget: a plain search of the study, by hand, keeps no deadline.
    assert share_clock(study, _section(None), None, 0.0, worker=False).due(study) is None


def test_the_owner_ends_the_share_when_its_search_ends() -> None:
    study = _study()
    owner = share_clock(study, _section("30m"), time.time() + 600, 12.0, worker=False)
    owner.due(study)
    worker = share_clock(study, _section(None), None, 0.0, worker=True)
    worker.close(study)  # a worker's end changes nothing
    assert SearchShare.of(study).ends_at > time.time() + 500
    owner.close(study)
    assert SearchShare.of(study).ends_at <= time.time()


def test_a_worker_with_another_budget_is_refused(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'o.db'}"

    def refuse(budget: str | None) -> None:
        refuse_other_budget(_section(budget), stored_share("s", url)[1])

    refuse("10m")  # no database: nothing to compare, none made
    assert not (tmp_path / "o.db").exists()
    study = optuna.create_study(study_name="s", storage=url, direction="maximize")
    refuse("10m")  # a study with no deadline stored
    SearchShare(time.time() + 600, 1800.0, 12.0).publish(study)
    with pytest.raises(ConfigError, match=r"study.budget: study 's' keeps .*30.0 min.*not 10"):
        refuse("10m")
    refuse("30m")
    refuse(None)


def test_a_worker_leaves_a_share_too_short_without_closing_the_study() -> None:
    study = _study()
    # No trial finished yet: the owner runs one whatever the clock says, a worker does not.
    assert not out_of_time(study, time.time() - 1, 5.0, 0, fewest_epochs=1.0)
    assert out_of_time(study, time.time() - 1, 5.0, 0, fewest_epochs=1.0, joined=True)
    assert BUDGET_CLOSED_ATTR not in study.user_attrs


def test_a_worker_started_after_the_share_ended_starts_no_trial(make_config) -> None:
    config = load_config(make_config({"study": {"n_trials": 1}}))
    started = time.time()
    study = run_search(config, quiet=True, deadline=started + 10**4, shortest_trial=1.0)
    # The owner stored its deadline, and ended the share when its search ended (its trials
    # done): the final stage follows, so a later worker's trials would not be used.
    assert started <= SearchShare.of(study).ends_at <= time.time()
    more = load_config(make_config({"study": {"n_trials": 3}}))
    joined = run_search(more, quiet=True, worker=True)
    assert len(joined.get_trials(deepcopy=False)) == 1


def test_hpo_worker_with_another_budget_exits_2_and_runs_nothing(make_config, capsys) -> None:
    path = make_config({"study": {"n_trials": 1}})
    config = load_config(path)
    run_search(config, quiet=True, deadline=time.time() + 10**4, shortest_trial=1.0)
    stored = optuna.load_study(study_name=config.study.name, storage=config.storage_url)
    SearchShare(time.time() + 600, 1800.0, 1.0).publish(stored)
    saved = (config.output_dir / "config.yaml").read_text(encoding="utf-8")
    capsys.readouterr()  # what the search above printed
    code = main(["worker", str(path), "--quiet", "--n-trials", "3", "--budget", "10m"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "study.budget" in err[0] and "30.0 min" in err[0]
    assert len(stored.get_trials(deepcopy=False)) == 1
    # The config the other workers run is not overwritten by the refused one.
    assert (config.output_dir / "config.yaml").read_text(encoding="utf-8") == saved


def test_the_budget_start_is_stored_once_and_kept_by_later_moves() -> None:
    study = _study()
    owner = share_clock(study, _section("30m"), lambda s: 5000.0, 12.0, worker=False, started=40.0)
    owner.due(study)
    assert SearchShare.of(study).started == 40.0
    SearchShare(4000.0, 1800.0, 12.0).publish(study)  # a share that does not say: kept
    assert SearchShare.of(study) == SearchShare(4000.0, 1800.0, 12.0, 40.0)
    SearchShare(4000.0, 1800.0, 12.0, 41.0).publish(study)  # one that does is written
    assert SearchShare.of(study).started == 41.0


def test_a_worker_waits_for_the_owner_to_store_its_share(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    assert stored_share("s", url) == (None, None)
    assert not (tmp_path / "w.db").exists(), "reading creates no database"

    errors: list[BaseException] = []

    def owner() -> None:
        try:
            time.sleep(0.3)
            # Through hpo's storage, which retries the schema's creation when another process
            # (here the waiter, reading) opens the new database at the same moment.
            storage = make_storage(url)
            study = optuna.create_study(study_name="s", storage=storage, direction="maximize")
            time.sleep(0.3)  # a study with no share yet is waited for too
            SearchShare(time.time() + 60, 600.0, 5.0, time.time()).publish(study)
        except BaseException as exc:  # the waiter would wait for ever: say why
            errors.append(exc)

    thread = threading.Thread(target=owner)
    thread.start()
    try:
        study, share = wait_for_share("s", url, poll_s=0.05, timeout_s=60)
    finally:
        thread.join()
    assert not errors, errors
    assert study.study_name == "s" and share.budget_seconds == 600.0 and not share.ended()
