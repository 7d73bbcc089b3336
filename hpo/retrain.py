"""Final stage: best trial -> train on the whole training split -> test scores, once.

How "best model at end" works without a validation split: the search already chose it. A
trial's value is its best evaluation, reached at some epoch (``peak_epoch``, on the grid of
``study.evals_per_epoch``). The retrain uses the trial's params and learning-rate schedule
(its ``num_train_epochs``) and stops at that epoch. Nothing is evaluated while it trains, so the
test split never picks an epoch or a checkpoint; it is scored exactly once, at the end.
"""

from __future__ import annotations

import gc
import json
import logging
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hpo.callbacks import StopAtEpochCallback, grid_point
from hpo.config import AUTO_WARMUP
from hpo.errors import HpoError
from hpo.export import load_params
from hpo.layout import checkpoints_dir, model_dir, write_atomically, write_model_record
from hpo.metrics import objective_for, predict_logits, score
from hpo.model import load_tokenizer
from hpo.prepare import prepare
from hpo.space import auto_warmup, reference_params
from hpo.storage import load_existing_study
from hpo.training import build_trainer, replay
from hpo.trials import best_trial, peak_epoch

if TYPE_CHECKING:
    from hpo.config import HpoConfig

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plan:
    """What to train: params, where to stop, and where it came from."""

    params: dict[str, Any]
    stop_epoch: float
    source: str


def plan_from_study(config: HpoConfig) -> Plan:
    """The best trial of the stored study, stopped where it peaked."""
    study = load_existing_study(config)
    trial = best_trial(study)
    return Plan(
        dict(trial.params),
        _on_grid(config, peak_epoch(trial)),
        f"study {study.study_name!r} trial {trial.number}",
    )


def plan_from_file(config: HpoConfig, path: str | Path) -> Plan:
    """Params exported by ``hpo export`` (the peak epoch comes with them)."""
    params, peak = load_params(path, config)
    epochs = float(params.get("num_train_epochs", config.training.get("num_train_epochs", 3)))
    return Plan(params, _on_grid(config, peak if peak is not None else epochs), str(path))


def plan_reference(config: HpoConfig, epochs: float) -> Plan:
    """The reference setup, trained for ``epochs`` (the tuned run's epoch budget).

    Its searched keys come from ``reference``; the reference values of keys that are not
    searched are used too, since they define the reference. ``warmup_steps: auto`` stays in
    the plan and is resolved when the training split's size is known (:func:`trained_params`).
    """
    params = dict(config.reference)
    params["num_train_epochs"] = max(1, int(np.ceil(epochs)))
    known = reference_params(config.search_space, params)
    extra = {k: v for k, v in params.items() if k not in known}
    return Plan({**known, **extra}, epochs, "reference setup")


def trained_params(plan: Plan, config: HpoConfig, *, n_train: int) -> dict[str, Any]:
    """The plan's params as training gets them: ``warmup_steps: auto`` resolved for a run on
    ``n_train`` examples as the search resolved it (:func:`hpo.space.auto_warmup`)."""
    params = dict(plan.params)
    if params.get("warmup_steps") == AUTO_WARMUP:
        spec = config.search_space.get("warmup_steps")
        params["warmup_steps"] = auto_warmup(spec, params, config.training, n_train=n_train)
    return params


def _on_grid(config: HpoConfig, epoch: float) -> float:
    k = config.study.evals_per_epoch
    return max(1, grid_point(epoch, k)) / k


def train_and_test(
    config: HpoConfig, plan: Plan, out_dir: Path, *, seeds: int = 1, quiet: bool = False
) -> dict[str, Any]:
    """Train ``seeds`` times on the whole training split, test each once; save the first model.

    Writes ``out_dir/model`` (model + tokenizer, loadable by ``from_pretrained``) and
    ``out_dir/metrics.json``; returns the metrics. A finished run with the same plan is reused.
    """
    metrics_path = out_dir / "metrics.json"
    if metrics_path.exists():
        done = json.loads(metrics_path.read_text())
        if (
            done.get("params") == plan.params
            and done.get("seeds") == seeds
            and done.get("stop_epoch") == plan.stop_epoch
        ):
            logger.info("Final stage already done: %s", metrics_path)
            return done
        raise HpoError(
            f"{out_dir.absolute()} holds the results of another plan ({done.get('source')}, "
            f"params {done.get('params')}, {done.get('seeds')} seed(s), stopped at epoch "
            f"{done.get('stop_epoch')}); this one is {plan.source}, params {plan.params}, "
            f"{seeds} seed(s), epoch {plan.stop_epoch}. Move or delete that folder to train "
            "this plan, or set another --set training.output_dir."
        )
    tokenizer = load_tokenizer(config.model)
    prepared = prepare(config.data, tokenizer, stage="final")
    train, test = prepared.splits["train"], prepared.splits["test"]
    objective = objective_for(config, prepared.labels)
    params = trained_params(plan, config, n_train=len(train))
    base_seed = int(config.training.get("seed", 42))
    runs = []
    for i in range(seeds):
        seed = base_seed + i
        logger.info(
            "Final training %d/%d (seed %d): %s, stopping at epoch %.2f, on %d reviews",
            i + 1,
            seeds,
            seed,
            params,
            plan.stop_epoch,
            len(train),
        )
        trainer = build_trainer(
            config,
            train_dataset=train,
            eval_dataset=None,
            tokenizer=tokenizer,
            output_dir=checkpoints_dir(out_dir),
            quiet=quiet,
            overrides={
                "seed": seed,
                **{k: v for k, v in params.items() if k not in config.search_space},
            },
        )
        trainer.add_callback(StopAtEpochCallback(plan.stop_epoch))
        start = time.perf_counter()
        # The searched params go in the way every trial's did: through hp_space.
        output = trainer.train(trial=replay(trainer, config, params))
        train_seconds = time.perf_counter() - start
        logits, labels, test_seconds = predict_logits(trainer, test)
        predictions = logits.argmax(-1)
        run = {
            "seed": seed,
            **score(predictions, labels, prepared.labels, objective),
            "epochs_trained": round(trainer.state.epoch or 0.0, 4),
            "train_seconds": round(train_seconds, 1),
            "train_samples_per_second": round(output.metrics.get("train_samples_per_second", 0), 2),
            "test_seconds": round(test_seconds, 1),
            "test_samples_per_second": round(len(test) / test_seconds, 2),
        }
        logger.info(
            "Seed %d: test accuracy %.4f (95%% CI %.4f-%.4f)", seed, run["accuracy"], *run["ci95"]
        )
        if objective.metric != "accuracy":
            logger.info(
                "Seed %d: test %s %.4f (95%% CI %.4f-%.4f)",
                seed,
                objective.title,
                run["metric_value"],
                *run["metric_ci95"],
            )
        if i == 0:
            _save_model(trainer, tokenizer, model_dir(out_dir), config, plan, prepared.labels)
            # Per-example predictions of the saved model, in test order: the report compares
            # models scored on the same examples with a paired test.
            first_predictions = predictions.tolist()
        runs.append(run)
        del trainer
        gc.collect()
    accs = [r["accuracy"] for r in runs]
    values = [r["metric_value"] for r in runs]
    metrics = {
        **{k: v for k, v in runs[0].items() if k != "seed"},
        "test_accuracy_mean": statistics.fmean(accs),
        "test_accuracy_std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
        "test_metric_mean": statistics.fmean(values),
        "test_metric_std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "seeds": seeds,
        "runs": runs,
        "params": plan.params,
        "trained_params": params,
        "stop_epoch": plan.stop_epoch,
        "source": plan.source,
        "train_size": len(train),
        "test_carved": prepared.test_carved,
        "test_fraction": config.data.test_fraction if prepared.test_carved else None,
        "data_fingerprint": prepared.data_fingerprint,
        "max_length": config.data.max_length,
        "predictions": first_predictions,
    }
    write_atomically(metrics_path, json.dumps(metrics, indent=2) + "\n")
    return metrics


def _save_model(
    trainer: Any,
    tokenizer: Any,
    model_dir: Path,
    config: HpoConfig,
    plan: Plan,
    labels: tuple[str, ...],
) -> None:
    trainer.save_model(str(model_dir))
    tokenizer.save_pretrained(str(model_dir))
    info = {
        "max_length": config.data.max_length,
        "text_column": config.data.text_column,
        "text_pair_column": config.data.text_pair_column,
        "truncation": config.data.truncation,
        "head_fraction": config.data.head_fraction,
        "labels": list(labels),
        "params": plan.params,
        "source": plan.source,
        "model": config.model.name,
    }
    write_model_record(model_dir, info)
