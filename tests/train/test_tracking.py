"""Tracking: a run per trial (params, every evaluation on the samples-seen axis, the value) and
one per final model (its test figures), read back from TensorBoard's event files and a local
MLflow store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hpo.api import load_config
from hpo.errors import ConfigError
from hpo.search.loop import run_search
from hpo.train.arguments import training_arguments
from hpo.train.tracking import Tracking, final_figures, split_report_to


def test_hpo_takes_its_trackers_out_of_trainers_report_to() -> None:
    assert split_report_to("none") == ([], [])
    assert split_report_to("tensorboard") == (["tensorboard"], [])
    assert split_report_to(["mlflow", "comet_ml"]) == (["mlflow"], ["comet_ml"])
    with pytest.raises(ConfigError, match="'all' would log to every tracker"):
        split_report_to("all")
    args = training_arguments({"report_to": ["tensorboard"]}, {}, {}, output_dir="/tmp/x")
    assert args.report_to in ([], ["none"], "none")


def test_a_missing_tracker_package_is_a_config_error(tmp_path: Path, monkeypatch) -> None:
    import builtins

    real = builtins.__import__

    def no_wandb(name, *args, **kwargs):
        if name == "wandb":
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_wandb)
    with pytest.raises(ConfigError, match="'wandb' needs the wandb package"):
        Tracking(["wandb"], tmp_path, "s")


def test_final_figures() -> None:
    figures = final_figures(
        {
            "accuracy": 0.9,
            "ci95": [0.8, 0.95],
            "metric": "f1",
            "metric_value": 0.7,
            "metric_ci95": [0.6, 0.8],
        }
    )
    assert figures == {
        "test/accuracy": 0.9,
        "test/accuracy_ci_low": 0.8,
        "test/accuracy_ci_high": 0.95,
        "test/f1": 0.7,
        "test/f1_ci_low": 0.6,
        "test/f1_ci_high": 0.8,
    }


@pytest.mark.slow
def test_tensorboard_and_mlflow_get_a_run_per_trial_and_per_final_model(
    make_config, monkeypatch
) -> None:
    pytest.importorskip("tensorboard")
    pytest.importorskip("mlflow")
    from mlflow import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from hpo.final.retrain import plan_from_study, train_and_test
    from hpo.runs import RunLayout
    from hpo.search.storage import load_existing_study

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    config = load_config(
        make_config(
            {
                "study": {"n_trials": 2, "evals_per_epoch": 2},
                "training": {"report_to": ["tensorboard", "mlflow"]},
            }
        )
    )
    study = run_search(config, quiet=True)
    root = RunLayout(config.output_dir).root
    trials = study.get_trials(deepcopy=False)

    # TensorBoard: a folder per trial, its evaluations at the samples seen.
    for trial in trials:
        events = EventAccumulator(str(root / "tensorboard" / f"t-trial-{trial.number}"))
        events.Reload()
        points = events.Scalars("eval/accuracy")
        evals = trial.user_attrs["evals"]
        assert [p.step for p in points] == [e["samples_seen"] for e in evals]
        assert [round(p.value, 4) for p in points] == [round(e["accuracy"], 4) for e in evals]
        assert events.Scalars("value")[-1].value == pytest.approx(trial.value)

    # MLflow: an experiment named after the study, a finished run per trial with its params.
    client = MlflowClient(tracking_uri=f"sqlite:///{(root / 'mlflow.db').absolute()}")
    experiment = client.get_experiment_by_name("t")
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    assert set(runs) == {f"t-trial-{t.number}" for t in trials}
    for trial in trials:
        run = runs[f"t-trial-{trial.number}"]
        assert run.info.status == "FINISHED"
        assert run.data.params.keys() == trial.params.keys()
        history = client.get_metric_history(run.info.run_id, "eval/accuracy")
        assert [m.step for m in history] == [e["samples_seen"] for e in trial.user_attrs["evals"]]
        assert run.data.metrics["value"] == pytest.approx(trial.value)

    # The final model: one more run, with its test figures.
    plan = plan_from_study(
        load_existing_study(config.study.name, config.storage_url, config.source),
        config.study.evals_per_epoch,
    )
    metrics = train_and_test(config, plan, RunLayout(config.output_dir).final, quiet=True)
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    final = runs["t-final"].data.metrics
    assert final["test/accuracy"] == pytest.approx(metrics.accuracy)
    assert final["test/accuracy_ci_low"] == pytest.approx(metrics.ci95[0])
    events = EventAccumulator(str(root / "tensorboard" / "t-final"))
    events.Reload()
    assert events.Scalars("test/accuracy")[-1].value == pytest.approx(metrics.accuracy)


def _wandb_records(path: Path) -> list[Any]:
    """The protobuf records of an offline W&B run file: a 7-byte header (":W&B", magic, version),
    then LevelDB-log framing (32 KiB blocks; each record 4 crc, 2 length, 1 type, data; types
    FULL 1, FIRST 2, MIDDLE 3, LAST 4). wandb 0.2x+ reads it in its Go core only, so the test
    reads it itself; a change of format fails here, by name."""
    from wandb.proto import wandb_internal_pb2

    raw = path.read_bytes()
    assert raw[:4] == b":W&B", f"{path}: not a W&B run file (wandb changed its format?)"
    records, pending, pos, block = [], b"", 7, 32768
    while pos + 7 <= len(raw):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        length, kind = int.from_bytes(raw[pos + 4 : pos + 6], "little"), raw[pos + 6]
        if length == 0 and kind == 0:
            break
        data, pos = raw[pos + 7 : pos + 7 + length], pos + 7 + length
        assert kind in (1, 2, 3, 4), f"{path}: record type {kind} (wandb changed its format?)"
        pending = data if kind in (1, 2) else pending + data
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
    return records


def _items(items: Any) -> dict[str, Any]:
    """A W&B record's key/value items (a key is ``key`` or the path ``nested_key``) as a dict."""
    return {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in items}


def test_wandb_offline_gets_the_run_its_params_evaluations_and_state(
    tmp_path: Path, monkeypatch
) -> None:
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    tracking = Tracking(["wandb"], tmp_path / "wandb-root", "study")
    tracking.start("study-trial-3", {"learning_rate": 1e-4})
    tracking.log({"eval/accuracy": 0.5}, 96)
    tracking.log({"eval/accuracy": 0.75}, 192)
    tracking.end({"value": 0.75}, "PRUNED")

    (run_file,) = (tmp_path / "wandb-root" / "wandb").glob("offline-run-*/run-*.wandb")
    records = _wandb_records(run_file)
    kinds = [r.WhichOneof("record_type") for r in records]
    (run,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
    assert run.display_name == "study-trial-3" and run.project == "study"
    config = _items(run.config.update)
    assert config["learning_rate"] == 1e-4
    history = [_items(r.history.item) for r in records if r.WhichOneof("record_type") == "history"]
    assert [(h["samples_seen"], h["eval/accuracy"]) for h in history] == [(96, 0.5), (192, 0.75)]
    summary = {}
    for r in records:
        if r.WhichOneof("record_type") == "summary":
            summary |= _items(r.summary.update)
    assert summary["value"] == 0.75 and summary["state"] == "PRUNED"
    assert "exit" in kinds
