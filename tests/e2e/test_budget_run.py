"""`hpo plan` and `hpo run --budget` as a user runs them: a folder of data, a deadline, no
config; and the one-line errors of a budget that cannot work."""

from __future__ import annotations

import json
import time
from pathlib import Path

import optuna
import pytest
from plans import stub_plan

from hpo.api import load_config
from hpo.cli import main
from hpo.config.reference import DEFAULT_ATTR, DEFAULT_KEPT
from hpo.search.trials import VALIDATION_EXAMPLES_ATTR

pytestmark = pytest.mark.slow


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_plan_prints_and_writes_nothing_but_the_cache(
    tiny_models, tiny_data, tmp_path: Path, monkeypatch, capsys
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    cache = tmp_path / "cache"
    argv = ["plan", "--data", str(tiny_data), "--model", str(tiny_models["bert"]), "--budget"]
    assert main([*argv, "2m", "--set", f"data.cache_dir={cache}"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Plan for a budget of 2.0 min")
    for key in ("data.max_length", "data.truncation", "study.n_trials", "data.max_train_samples"):
        assert key in out
    assert "planner" in out and "search" in out and "final" in out
    assert _files(work) == [], "hpo plan writes nothing in the working folder"
    assert (cache / "profiles").is_dir() and (cache / "machine").is_dir()


@pytest.mark.parametrize(
    ("budget", "message"),
    [
        ("soon", "--budget: expected a number with a unit s, m or h"),
        ("2s", "too small for the final stage"),
    ],
)
def test_a_budget_that_cannot_work_is_one_line(
    budget: str, message: str, tiny_models, tiny_data, tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = ["run", "--data", str(tiny_data), "--model", str(tiny_models["bert"])]
    argv += ["--budget", budget, "--set", f"data.cache_dir={tmp_path / 'cache'}"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    if budget == "2s":
        assert "needs at least" in err
    assert not (tmp_path / "runs").exists() and not (tmp_path / "storage").exists()


def test_plan_for_no_workers_is_one_line(tiny_models, tiny_data, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = ["plan", "--data", str(tiny_data), "--model", str(tiny_models["bert"])]
    assert main([*argv, "--budget", "5m", "--workers", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert "study.workers must be >= 1" in err and len(err.splitlines()) == 1, err
    assert _files(tmp_path) == []


def test_no_config_and_no_data(capsys) -> None:
    assert main(["run", "--budget", "5m"]) == 2
    assert "--data DIR" in capsys.readouterr().err


def _count_loads(monkeypatch: pytest.MonkeyPatch) -> dict[str, list]:
    """Count, from an empty start, what this process reads: data sets loaded, data files
    hashed, tokenizers loaded."""
    import hpo.data.sources as sources
    import hpo.train.model as model

    counts: dict[str, list] = {"data": [], "hashed": [], "tokenizer": []}
    for cache in ("_DIGESTS", "_LOADED"):
        monkeypatch.setattr(sources, cache, {})
    monkeypatch.setattr(model, "_TOKENIZERS", {})
    read, hashed, loaded = sources._read, sources._hash_file, model._from_pretrained

    def counted_read(cfg, source):
        counts["data"].append(source.location)
        return read(cfg, source)

    def counted_hash(path):
        counts["hashed"].append(path)
        return hashed(path)

    def counted_load(auto_class, cfg, what, **kwargs):
        counts[what] = [*counts.get(what, []), cfg.name]
        return loaded(auto_class, cfg, what, **kwargs)

    monkeypatch.setattr(sources, "_read", counted_read)
    monkeypatch.setattr(sources, "_hash_file", counted_hash)
    monkeypatch.setattr(model, "_from_pretrained", counted_load)
    return counts


def test_run_with_a_budget_keeps_it(tiny_models, tiny_data, tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    counts = _count_loads(monkeypatch)
    argv = ["run", "--data", str(tiny_data), "--model", str(tiny_models["bert"]), "--quiet"]
    argv += ["--budget", "100s", "--set", f"data.cache_dir={tmp_path / 'cache'}"]
    # 60 validation examples are too few for the planner to search on: two trials of yours.
    argv += ["--set", "data.label_names=[neg, pos]", "--set", "study.n_trials=2"]
    start = time.time()
    assert main(argv) == 0
    took = time.time() - start
    runs = tmp_path / "runs" / tiny_data.name
    assert (
        capsys.readouterr().out.strip() == f"report: {Path('runs') / tiny_data.name / 'report.md'}"
    )
    plan = json.loads((runs / "plan.json").read_text())
    assert plan["budget_seconds"] == 100
    assert set(plan["actual_seconds"]) >= {"prepare", "search", "final", "baselines", "report"}
    assert took <= 100 * 1.05
    assert plan["elapsed_seconds"] <= 100 * 1.05
    # No work twice: profile, search, final stage, baselines and report share one load of the
    # data and one of the tokenizer; each data file is read (hashed) once.
    files = sorted(p for p in tiny_data.iterdir() if p.is_file())
    assert counts["data"] == [str(tiny_data)], counts["data"]
    assert sorted(counts["hashed"]) == files, counts["hashed"]
    assert len(counts["tokenizer"]) == 1, counts["tokenizer"]
    report = (runs / "report.md").read_text()
    assert "## Budget" in report and "| search |" in report
    saved = (runs / "config.yaml").read_text()
    assert "budget: 100s" in saved and "max_train_samples" in saved
    study = optuna.load_study(
        study_name=tiny_data.name, storage=f"sqlite:///{tmp_path / 'storage' / tiny_data.name}.db"
    )
    assert study.user_attrs["plan"]["budget_seconds"] == 100
    assert study.user_attrs["search_share"]["budget_seconds"] == 100
    # Two trials scored on 60 validation examples cannot beat the strong default beyond the
    # noise (about ±18 points): the final stage trains the default's params, and says so
    # where another trial scored higher.
    assert study.user_attrs[VALIDATION_EXAMPLES_ATTR] == 60
    default = next(t for t in study.trials if t.user_attrs.get(DEFAULT_ATTR))
    final = json.loads((runs / "final" / "metrics.json").read_text())
    assert {k: final["params"][k] for k in default.params} == default.params
    if study.best_trial.number != default.number:
        assert final["source"].startswith(DEFAULT_KEPT), final["source"]
        assert final["default_kept"] and final["default_kept"] in final["source"]
        assert "the search's best within noise" in report
        events = json.loads((runs / "plan.json").read_text())["events"]
        assert any(e.startswith("final stage: trial ") for e in events), events

    # A worker that joins once the search's share has ended starts no trial and exits 0; one
    # that brings another budget is refused, and neither rewrites the saved config.
    trials = len(study.trials)
    worker = ["worker", str(runs / "config.yaml"), "--quiet", "--n-trials", "6"]
    worker += ["--set", f"data.cache_dir={tmp_path / 'cache'}"]
    assert main(worker) == 0
    before = (runs / "config.yaml").read_text()
    assert main([*worker, "--budget", "5m"]) == 2
    assert "keeps the deadline of the budget it was started with" in capsys.readouterr().err
    assert len(study.trials) == trials
    assert (runs / "config.yaml").read_text() == before

    # The same command again: the same plan, the same study, nothing trained again.
    stamp = (runs / "final" / "metrics.json").stat().st_mtime_ns
    assert main(argv) == 0
    assert (runs / "final" / "metrics.json").stat().st_mtime_ns == stamp
    assert json.loads((runs / "plan.json").read_text())["choices"] == plan["choices"]


def test_a_budget_with_no_search_trains_the_strong_default(
    tiny_models, tiny_data, tmp_path: Path, monkeypatch
) -> None:
    """60 validation examples rank settings only to ±12.7 points: the plan searches nothing,
    the final stage trains the strong default for the time left and keeps its best point on
    validation, and the report says why; no study is stored. Where its start chooses a longer
    length than the plan's (here forced: 8 tokens more), it trains, records and hands over that
    length, and a rerun keeps it. Where the TF-IDF grid does not fit whole (here its cost
    forced), the baselines try the settings the plan holds."""
    from hpo.plan import planner, replan

    chosen = replan.final_length
    monkeypatch.setattr(replan, "final_length", lambda *a, **k: chosen(*a, **k) + 8)
    monkeypatch.setattr(
        planner, "baseline_seconds", lambda _, settings=8: 5.0 if settings <= 3 else 1e4
    )
    monkeypatch.chdir(tmp_path)
    argv = ["run", "--data", str(tiny_data), "--model", str(tiny_models["bert"]), "--quiet"]
    argv += ["--budget", "90s", "--set", f"data.cache_dir={tmp_path / 'cache'}"]
    argv += ["--set", "data.label_names=[neg, pos]"]
    start = time.time()
    assert main(argv) == 0
    assert time.time() - start <= 90 * 1.05
    runs = tmp_path / "runs" / tiny_data.name
    plan = json.loads((runs / "plan.json").read_text())
    assert plan["search"]["chosen"] is False
    assert plan["search"]["why"].startswith("no search: 60 validation examples")
    assert {c["key"]: c["value"] for c in plan["choices"]}["study.n_trials"] == 0
    metrics = json.loads((runs / "final" / "metrics.json").read_text())
    assert metrics["source"] == "strong default (no search)"
    assert metrics["params"]["learning_rate"] == 5e-5
    assert metrics["inputs"]["keep_best"] is True and metrics["validation_curve"]
    assert metrics["best_epoch"] in [point[0] for point in metrics["validation_curve"]]
    report = (runs / "report.md").read_text()
    assert "## Search\n\nNone: no search: 60 validation examples" in report
    assert "strong default, no search" in report
    assert plan["tfidf_settings"] == 3
    baselines = json.loads((runs / "baselines.json").read_text())
    assert len(baselines["classical"]["grid"]) == 3
    import yaml

    saved = yaml.safe_load((runs / "config.yaml").read_text())
    assert saved["study"]["n_trials"] == 0
    assert not (tmp_path / "storage").exists(), "no search, no study"
    planned = {c["key"]: c["value"] for c in plan["choices"]}["data.max_length"]
    assert metrics["max_length"] == saved["data"]["max_length"] == planned + 8
    assert f"max_length {planned + 8}" in report
    # A rerun reuses the model trained, at the length it was trained at.
    assert main(argv) == 0
    assert json.loads((runs / "final" / "metrics.json").read_text()) == metrics
    assert yaml.safe_load((runs / "config.yaml").read_text())["data"]["max_length"] == planned + 8


def test_the_final_part_before_any_search_is_one_line(make_config, capsys) -> None:
    path = make_config({"study": {"budget": "100s"}})
    assert main(["run", str(path), "--part", "final", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "holds no budgeted search to go on from" in err, err
    assert not load_config(path).output_dir.exists()


def test_a_rerun_search_part_keeps_the_start_stored_on_the_study(tmp_path: Path) -> None:
    """A requeued task 0 keeps its first deadline; the final part counts from the same start;
    the time queued before the start is noted, not counted."""
    from hpo.pipeline import _note_queued, _part_start, _submitted
    from hpo.plan.budgeted import StageClock
    from hpo.search.share import SearchShare

    url = f"sqlite:///{tmp_path / 's.db'}"
    assert _part_start("s", url, "search", 500.0) == (500.0, False)
    study = optuna.create_study(study_name="s", storage=url, direction="maximize")
    SearchShare(900.0, 180.0, 5.0, started=400.0).publish(study)
    assert _part_start("s", url, "search", 500.0) == (400.0, True)
    assert _part_start("s", url, "final", 700.0) == (400.0, True)
    # Launched again after that job (submitted at 450): the search part starts afresh.
    assert _part_start("s", url, "search", 500.0, submitted=450.0) == (500.0, False)
    assert _part_start("s", url, "search", 500.0, submitted=350.0) == (400.0, True)
    (tmp_path / "slurm").mkdir()
    (tmp_path / "slurm" / "submitted.json").write_text(json.dumps({"submitted": 370.0}))
    clock = StageClock(tmp_path / "plan.json", stub_plan(), started=400.0)
    _note_queued(clock, _submitted(tmp_path))
    assert clock.events == ["queued 30 s before the search part began (not in the budget)"]


def test_a_part_without_a_budget_is_one_line(make_config, capsys) -> None:
    assert main(["run", str(make_config()), "--part", "search", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--part search splits a budgeted job" in err, err
