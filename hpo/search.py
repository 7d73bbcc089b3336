"""Run the search: ``Trainer.hyperparameter_search(backend="optuna")`` over a stored study."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import optuna

from hpo.data import prepare
from hpo.errors import HpoError
from hpo.metrics import compute_objective
from hpo.model import load_tokenizer, make_model_init
from hpo.space import make_hp_space, reference_params
from hpo.storage import build_pruner, build_sampler, finished_trials, make_storage, open_study
from hpo.training import build_trainer

if TYPE_CHECKING:
    from hpo.config import HpoConfig

logger = logging.getLogger(__name__)

#: Errors a trial may hit that should fail that trial only, not the whole search.
try:
    import torch

    TRIAL_ERRORS: tuple[type[BaseException], ...] = (torch.OutOfMemoryError,)
except AttributeError:  # torch < 2.5
    TRIAL_ERRORS = ()


def seeded_sampler(config: HpoConfig, n_existing: int) -> optuna.samplers.BaseSampler:
    """The configured sampler, with its seed offset by the trials already in the study.

    A resumed study with the same seed would replay the same random start-up suggestions and
    repeat trials it already has; the offset keeps runs reproducible without repeats.
    """
    spec = dict(config.study.sampler)
    if n_existing and spec.get("seed") is not None:
        spec["seed"] = int(spec["seed"]) + n_existing
    return build_sampler(spec, source=config.source)


def run_search(config: HpoConfig, *, quiet: bool = False) -> optuna.Study:
    """Run trials until the study holds ``study.n_trials`` COMPLETE + PRUNED trials.

    A new study gets the reference setup enqueued as its first trial. Re-running resumes the
    same study. Trials that fail (e.g. out of memory) are recorded as FAILED, do not count, and
    are replaced; if a whole round produces nothing but failures the search stops with an error.
    """
    storage = make_storage(config.storage_url)
    study = open_study(config, storage=storage)
    target = config.study.n_trials
    done = finished_trials(study)
    if done >= target:
        logger.info(
            "Study %r already has %d/%d finished trials; nothing to do.",
            config.study.name,
            done,
            target,
        )
        return study
    if config.study.enqueue_reference and not study.trials:
        params = reference_params(config.search_space, config.reference)
        if params:
            study.enqueue_trial(params, user_attrs={"reference": True})
            logger.info("Enqueued the reference setup as trial 0: %s", params)

    tokenizer = load_tokenizer(config.model)
    prepared = prepare(config.data, tokenizer, stage="search")
    study.set_user_attr("data_fingerprint", prepared.data_fingerprint)
    train, validation = prepared.splits["train"], prepared.splits["validation"]
    logger.info(
        "Search data: %d train / %d validation reviews (fingerprint %s, cache %s)",
        len(train),
        len(validation),
        prepared.data_fingerprint,
        "hit" if prepared.cache_hit else "miss",
    )

    trainer = build_trainer(
        config,
        train_dataset=train,
        eval_dataset=validation,
        tokenizer=tokenizer,
        model_init=make_model_init(config.model),
        output_dir=config.output_dir / "trials",
        quiet=quiet,
    )
    hp_space = make_hp_space(config.search_space)
    while (remaining := target - done) > 0:
        logger.info(
            "Study %r: %d/%d trials finished; running %d more.",
            config.study.name,
            done,
            target,
            remaining,
        )
        try:
            _hyperparameter_search(trainer, config, storage, hp_space, remaining, study)
        except ValueError:
            # Trainer reads study.best_trial after optimizing; if every trial so far was
            # pruned there is none, which is a valid state for the study, not an error.
            if _has_complete(study):
                raise
        now = finished_trials(study)
        if now == done:
            raise HpoError(
                f"study {config.study.name!r}: every trial of the last round failed; see the "
                f"log above. Fix the cause and run `hpo search {config.source}` again to resume."
            )
        done = now
    return study


def _has_complete(study: optuna.Study) -> bool:
    return bool(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))


def _hyperparameter_search(
    trainer: Any,
    config: HpoConfig,
    storage: optuna.storages.BaseStorage,
    hp_space: Any,
    n_trials: int,
    study: optuna.Study,
) -> None:
    trainer.hyperparameter_search(
        hp_space=hp_space,
        compute_objective=compute_objective,
        n_trials=n_trials,
        direction=config.study.direction,
        backend="optuna",
        hp_name=_trial_name,
        # Passed through to optuna.create_study / study.optimize:
        study_name=config.study.name,
        storage=storage,
        load_if_exists=True,
        sampler=seeded_sampler(config, len(study.trials)),
        pruner=build_pruner(config.study.pruner),
        catch=TRIAL_ERRORS,
    )


def _trial_name(trial: Any) -> str:
    return f"trial-{trial.number}"
