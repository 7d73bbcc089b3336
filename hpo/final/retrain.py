"""Final stage: best trial -> train on the whole training split -> test scores, once.

With ``study.ship: best`` the whole training split is train without validation: the model's
validation probabilities, kept beside its test ones, let :mod:`hpo.final.ship` choose between it,
TF-IDF and their blend on examples none of them trained on.

How "best model at end" works: in a budgeted run trained without validation
(:attr:`RetrainPlan.keep_best`), the final stage trains the epochs the time left holds, scores
validation at each evaluation point and keeps the best point's weights. Otherwise the search
already chose it: a trial's value is its best evaluation, reached at some epoch
(``peak_epoch``, on the grid of ``study.evals_per_epoch``), and the retrain uses the trial's
params and learning-rate schedule (its ``num_train_epochs``) and stops at that epoch. Either
way the test split never picks an epoch or a checkpoint; it is scored exactly once, at the end.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpo.config.reference import (
    DEFAULT_KEPT,
    DEFAULT_SOURCE,
    FINAL_EVALS_PER_EPOCH,
    resolve_auto_warmup,
    retrain_params,
    strong_default,
)
from hpo.data.tokenized import prepare
from hpo.final.best_params import load_params
from hpo.final.card import write_card
from hpo.final.choice import PROBABILITIES, save_probabilities, softmax
from hpo.final.metrics import FinalMetrics
from hpo.final.record import ModelRecord
from hpo.final.scoring import score
from hpo.runs import INPUTS_KEY, checkpoints_dir, model_dir, reuse_result, save_result
from hpo.search.trials import best_trial, default_within_noise, peak_epoch
from hpo.train.callbacks import KeepBestCallback, StopAtEpochCallback, grid_point
from hpo.train.inference import predict_logits
from hpo.train.model import load_tokenizer
from hpo.train.objective import objective_for
from hpo.train.refit import DeadlineFitCallback, schedule_refits
from hpo.train.settings import setting, with_defaults
from hpo.train.tracking import final_figures
from hpo.train.trainer import build_trainer, replay
from hpo.train.trial_record import TrialRecord

if TYPE_CHECKING:
    from collections.abc import Mapping

    import optuna

    from hpo.config.schema import DataSection, HpoConfig
    from hpo.config.space import ParamSpec

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetrainPlan:
    """What the final stage trains: params, where to stop, and where they came from (not the
    budget's plan, :class:`hpo.plan.decision.Plan`)."""

    params: dict[str, Any]
    stop_epoch: float
    source: str
    #: > 1 when the trial was an out-of-memory retry: trained at its divided batch again.
    batch_divisor: int = 1
    #: Score validation at each evaluation point and keep the best point's weights (a budgeted
    #: run whose final stage trains without validation: its epochs are the budget's).
    keep_best: bool = False
    #: ``time.time()`` by which training stops whatever its epoch (a budget's deadline; not an
    #: input of the result: a rerun reuses the model trained).
    stop_by: float | None = None
    #: With ``stop_by`` and ``keep_best``: the most epochs its steps, once timed, may fit to the
    #: deadline (:mod:`hpo.train.refit`); None keeps the planned ones.
    most_epochs: float | None = None
    #: Seconds one scoring of validation is expected to take (until one is timed).
    eval_seconds: float = 0.0
    #: Why the strong default's trial is trained instead of the best one ("" where it is not).
    default_kept: str = ""

    def train_batch(self, training: Mapping[str, Any]) -> int:
        """The per-device batch it trains at: its params', else the training settings' (an
        out-of-memory retry's divided one)."""
        batch = self.params.get("per_device_train_batch_size")
        if batch is None:
            batch = setting("per_device_train_batch_size", {}, training).value
        return max(1, int(batch) // self.batch_divisor)


def plan_from_study(
    study: optuna.Study, evals_per_epoch: int, *, prefer_default: bool = False
) -> RetrainPlan:
    """The study's best trial (``prefer_default``: the strong default's where the best one's
    lead is inside the noise, :func:`~hpo.search.trials.default_within_noise`), stopped where it
    peaked (on the grid of ``evals_per_epoch``), at the batch it trained with."""
    kept = default_within_noise(study) if prefer_default else None
    trial, why = kept or (best_trial(study), "")
    return RetrainPlan(
        dict(trial.params),
        _on_grid(evals_per_epoch, peak_epoch(trial)),
        f"{DEFAULT_KEPT}: {why}" if why else f"study {study.study_name!r} trial {trial.number}",
        TrialRecord.of(trial).batch_divisor,
        default_kept=why,
    )


def plan_from_file(
    path: str | Path,
    search_space: Mapping[str, ParamSpec],
    training: Mapping[str, Any],
    evals_per_epoch: int,
) -> RetrainPlan:
    """Params exported by ``hpo export`` (the peak epoch comes with them)."""
    params, peak = load_params(path, search_space)
    epochs = float(params.get("num_train_epochs", setting("num_train_epochs", {}, training).value))
    stop = _on_grid(evals_per_epoch, peak if peak is not None else epochs)
    return RetrainPlan(params, stop, str(path))


def plan_reference(
    reference: Mapping[str, Any], search_space: Mapping[str, ParamSpec], epochs: float
) -> RetrainPlan:
    """The reference setup (:mod:`hpo.config.reference`) for ``epochs``, the tuned run's."""
    params = retrain_params(reference, search_space, epochs=epochs)
    return RetrainPlan(params, epochs, "reference setup")


def plan_default(
    search_space: Mapping[str, ParamSpec], training: Mapping[str, Any], *, epochs: float
) -> RetrainPlan:
    """The strong default (:func:`~hpo.config.reference.strong_default`) for ``epochs``, where
    there is no search; the keys ``training`` (the config's) fixes stay the config's, and the
    searched keys it leaves out take the training settings."""
    params: dict[str, Any] = {**strong_default(search_space, training), "num_train_epochs": epochs}
    for key in search_space:
        params.setdefault(key, setting(key, {}, training).value)
    return RetrainPlan(params, float(epochs), DEFAULT_SOURCE)


def _schedule_refits(search_space: Mapping[str, ParamSpec], training: Mapping[str, Any]) -> bool:
    """Whether the final stage's learning-rate schedule can be fitted to a deadline as it
    trains: set (not searched), a multiplier schedule, counted in epochs."""
    keys = ("lr_scheduler_type", "lr_scheduler_kwargs", "max_steps")
    found = {key: setting(key, search_space, training) for key in keys}
    if any(s.source == "searched" for s in found.values()):
        return False
    return schedule_refits(
        found["lr_scheduler_type"].value,
        found["lr_scheduler_kwargs"].value,
        int(found["max_steps"].value),
    )


def _on_grid(evals_per_epoch: int, epoch: float) -> float:
    """``epoch`` on the evaluation grid of ``study.evals_per_epoch`` (at least one point)."""
    return max(1, grid_point(epoch, evals_per_epoch)) / evals_per_epoch


def train_and_test(
    config: HpoConfig, plan: RetrainPlan, out_dir: Path, *, seeds: int = 1, quiet: bool = False
) -> FinalMetrics:
    """Train ``seeds`` times on the whole training split, test each once; save the first model.

    Writes ``out_dir/model`` (model + tokenizer, loadable by ``from_pretrained``) and
    ``out_dir/metrics.json``; returns the metrics. A finished run with the same plan is reused.
    With ``study.ship: best`` the training split leaves validation out, and the first model's
    class probabilities on validation and test go to ``out_dir/probabilities.npz``, for
    :mod:`hpo.final.ship` to choose with.
    """
    metrics_path = out_dir / "metrics.json"
    inputs: dict[str, Any] = {"params": plan.params, "seeds": seeds, "stop_epoch": plan.stop_epoch}
    if plan.batch_divisor > 1:
        inputs["batch_divisor"] = plan.batch_divisor
    # Handing over the best model on validation: validation stays out of training, to choose.
    holdout = config.study.ship == "best"
    if holdout:
        inputs["holdout"] = True
    keep_best = plan.keep_best and holdout
    if keep_best:
        inputs["keep_best"] = True
    done = reuse_result(metrics_path, inputs, refuse_other=True, what="plan")
    if done is not None:
        return FinalMetrics.from_dict(done)
    tokenizer = load_tokenizer(config.model)
    prepared = prepare(config.data, tokenizer, stage="holdout" if holdout else "final")
    train, test = prepared.splits["train"], prepared.splits["test"]
    validation = prepared.splits.get("validation")
    objective = objective_for(
        config.study.metric, prepared.labels, positive_label=config.data.positive_label
    )
    params = resolve_auto_warmup(
        plan.params, config.search_space, with_defaults(config.training), n_train=len(train)
    )
    base_seed = int(setting("seed", {}, config.training).value)
    # A deadline to keep: the loop may run to the most epochs, and its steps, once timed, fit
    # the stop and the schedule to the deadline (the schedule set to the plan's at the start).
    fits = (
        keep_best
        and plan.stop_by is not None
        and plan.most_epochs is not None
        and plan.most_epochs >= plan.stop_epoch
        and _schedule_refits(config.search_space, config.training)
    )
    trained = {**params, "num_train_epochs": plan.most_epochs} if fits else params
    runs = []
    for i in range(seeds):
        seed = base_seed + i
        logger.info(
            "Final training %d/%d (seed %d): %s, stopping at epoch %.2f, on %d examples",
            i + 1,
            seeds,
            seed,
            params,
            plan.stop_epoch,
            len(train),
        )
        trainer = build_trainer(
            # Keeping the best point: validation scored on the final stage's own grid.
            dataclasses.replace(config.trainer_setup, evals_per_epoch=FINAL_EVALS_PER_EPOCH)
            if keep_best
            else config.trainer_setup,
            train_dataset=train,
            eval_dataset=validation if keep_best else None,
            tokenizer=tokenizer,
            output_dir=checkpoints_dir(out_dir),
            quiet=quiet,
            overrides={
                "seed": seed,
                **{k: v for k, v in trained.items() if k not in config.search_space},
            },
        )
        stop = StopAtEpochCallback(
            plan.stop_epoch, evaluate=keep_best, stop_by=plan.stop_by if keep_best else None
        )
        trainer.add_callback(stop)
        fit = (
            DeadlineFitCallback(
                stop,
                planned=plan.stop_epoch,
                most=float(plan.most_epochs or plan.stop_epoch),
                deadline=float(plan.stop_by or 0.0),
                eval_seconds=plan.eval_seconds,
                evals_per_epoch=FINAL_EVALS_PER_EPOCH,
            )
            if fits
            else None
        )
        if fit is not None:
            trainer.add_callback(fit)
        best = KeepBestCallback(trainer.objective_of) if keep_best else None
        if best is not None:
            trainer.add_callback(best)
        start = time.perf_counter()
        # The searched params go in the way every trial's did: through hp_space.
        output = trainer.train(
            trial=replay(
                trainer,
                config.search_space,
                trained,
                batch_divisor=plan.batch_divisor,
                training=config.training,
            )
        )
        train_seconds = time.perf_counter() - start
        logits, labels, test_seconds = predict_logits(trainer, test)
        predictions = logits.argmax(-1)
        run = {
            "seed": seed,
            **score(predictions, labels, prepared.labels, objective),
            "epochs_trained": round(trainer.state.epoch or 0.0, 4),
            **(
                {"best_epoch": best.epoch, "validation_curve": best.history}
                if best is not None
                else {}
            ),
            **(
                {"fitted_epochs": fit.fitted}
                if fit is not None and fit.fitted not in (None, plan.stop_epoch)
                else {}
            ),
            "train_seconds": round(train_seconds, 1),
            "train_samples_per_second": round(output.metrics.get("train_samples_per_second", 0), 2),
            "test_seconds": round(test_seconds, 1),
            "test_samples_per_second": round(len(test) / test_seconds, 2),
        }
        logger.info(
            "Seed %d: test accuracy %.4f (95%% CI %.4f-%.4f)", seed, run["accuracy"], *run["ci95"]
        )
        if trainer.tracking is not None:
            name = f"{config.study.name}-{out_dir.name}" + (f"-seed{seed}" if seeds > 1 else "")
            trainer.tracking.start(name, {**params, "stop_epoch": plan.stop_epoch})
            samples = trainer.state.global_step * trainer.args.train_batch_size
            trainer.tracking.log(final_figures(run), samples)
            trainer.tracking.end({"train_seconds": train_seconds}, "COMPLETE")
        if objective.metric != "accuracy":
            logger.info(
                "Seed %d: test %s %.4f (95%% CI %.4f-%.4f)",
                seed,
                objective.title,
                run["metric_value"],
                *run["metric_ci95"],
            )
        if i == 0:
            _save_model(
                trainer,
                tokenizer,
                model_dir(out_dir),
                config.data,
                plan,
                prepared.labels,
                config.model.name,
            )
            # Per-example predictions of the saved model, in test order: the report compares
            # models scored on the same examples with a paired test.
            first_predictions = predictions.tolist()
            test_labels = labels.tolist()
            if validation is not None:
                val_logits, _, val_seconds = predict_logits(trainer, validation)
                run["validation_seconds"] = round(val_seconds, 1)
                save_probabilities(
                    out_dir / PROBABILITIES,
                    validation=softmax(val_logits),
                    test=softmax(logits),
                )
        runs.append(run)
        del trainer
        gc.collect()
    accs = [r["accuracy"] for r in runs]
    values = [r["metric_value"] for r in runs]
    metrics = FinalMetrics(
        **{k: v for k, v in runs[0].items() if k != "seed"},
        test_accuracy_mean=statistics.fmean(accs),
        test_accuracy_std=statistics.stdev(accs) if len(accs) > 1 else 0.0,
        test_metric_mean=statistics.fmean(values),
        test_metric_std=statistics.stdev(values) if len(values) > 1 else 0.0,
        seeds=seeds,
        runs=runs,
        params=plan.params,
        trained_params=params,
        stop_epoch=plan.stop_epoch,
        source=plan.source,
        default_kept=plan.default_kept,
        train_size=len(train),
        validation_held=len(validation) if validation is not None else 0,
        test_carved=prepared.test_carved,
        test_fraction=config.data.test_fraction if prepared.test_carved else None,
        data_fingerprint=prepared.data_fingerprint,
        max_length=config.data.max_length,
        predictions=first_predictions,
    )
    written = {k: v for k, v in metrics.to_dict().items() if k != INPUTS_KEY}
    saved = FinalMetrics.from_dict(save_result(metrics_path, inputs, written))
    write_card(
        model_dir(out_dir),
        saved,
        data=config.data,
        study=config.study,
        model_name=config.model.name,
        test_labels=test_labels,
    )
    return saved


def _save_model(
    trainer: Any,
    tokenizer: Any,
    model_dir: Path,
    data: DataSection,
    plan: RetrainPlan,
    labels: tuple[str, ...],
    model_name: str,
) -> None:
    trainer.save_model(str(model_dir))
    # The saved tokenizer's own limit is the length the model was trained at, so that
    # transformers.pipeline(..., truncation=True) cuts where training did (from the head).
    limit = tokenizer.model_max_length
    tokenizer.model_max_length = data.max_length
    try:
        tokenizer.save_pretrained(str(model_dir))
    finally:
        tokenizer.model_max_length = limit
    ModelRecord(
        max_length=data.max_length,
        truncation=data.truncation,
        head_fraction=data.head_fraction,
        text_column=data.text_column,
        text_pair_column=data.text_pair_column,
        labels=labels,
        params=plan.params,
        source=plan.source,
        model=model_name,
    ).write(model_dir)
