"""The Python API, and hpo's one front door: every ``hpo`` command is one call here, and only
prints what it returns, so a fix made here reaches the notebook and the command line alike.

```python
import hpo

config = hpo.load_config("study_configs/smoke.yaml", ["study.n_trials=3"])
study = hpo.run_search(config)        # run or resume the search; an optuna.Study
report = hpo.run(config)              # the whole job: search, retrain, test once, report
study = hpo.open_study(config)        # a stored study, read only
predictor = hpo.load_predictor("runs/smoke/final/model")
predictor.predict(["a lovely film"])  # [{"label": "pos", "probability": ..., ...}]

config = hpo.load_config(None, data="my-data", budget="30m")  # the default config, a deadline
plan = hpo.plan_budget(config)        # what `hpo run` would decide, and why; nothing trained
report = hpo.run(config)              # planned, and kept within the budget
```

The stages one at a time: :func:`export_best_params`, :func:`retrain`, :func:`make_report`,
:func:`quantize`; a study's trials as a table (:func:`trials_table`); a Slurm job array
(:func:`launch_slurm`). Each raises the same :class:`hpo.errors.HpoError` (with the config's
file named) that the CLI turns into one line and exit code 2. Nothing heavy is imported until a
call needs it, so ``import hpo`` stays light.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpo.config.loader import load_config as _load_structure
from hpo.errors import ConfigError, HpoError, config_source

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    import optuna

    from hpo.config.schema import HpoConfig
    from hpo.final.metrics import FinalMetrics
    from hpo.final.predict import Predictor
    from hpo.final.record import ModelRecord
    from hpo.plan.decision import Plan
    from hpo.search.launch import Launched, SlurmJob


def load_config(
    path: str | Path | None,
    overrides: Sequence[str] = (),
    *,
    check_training: bool = True,
    **cli: Any,
) -> HpoConfig:
    """A study config from its YAML file, with ``overrides`` (``"key=value"``, as ``--set``) and
    the CLI's shortcuts (``study_name``, ``storage``, ``n_trials``, ``budget``, ``data``,
    ``model``; None is ignored). ``path=None`` with ``data=`` reads the packaged default config
    (``hpo run --data DIR``).

    ``check_training`` also runs the checks that need Transformers (search and training keys
    are ``TrainingArguments`` fields, which it accepts): what every command that trains does.
    ``False`` keeps the load light (no torch), for code that only reads a study.
    """
    config = _load_structure(path, overrides, **cli)
    if check_training:
        from hpo.train.arguments import check_training_setup

        with config_source(config.source):
            check_training_setup(config.trainer_setup)
    return config


def run_search(
    config: HpoConfig, *, workers: int = 1, quiet: bool = False, worker: bool = False
) -> optuna.Study:
    """Run (or resume) the study's search until it holds ``study.n_trials`` finished trials;
    ``workers`` processes on this machine share it. ``worker``: join a study other processes
    search too (``hpo worker``): trials others left running are theirs until their heartbeat
    goes stale. A worker whose config has a budget waits for the budgeted run that owns the
    study to plan it, then runs the planned config within the search's share."""
    if workers < 1:
        raise HpoError(f"--workers must be >= 1, got {workers}.")
    with config_source(config.source):
        if config.study.n_trials == 0:
            raise ConfigError(
                "study.n_trials is 0: there is nothing to search. Give study.n_trials >= 1 "
                "(--n-trials), or use `hpo run`, which trains the strong default with no search."
            )
        from hpo.search.note import CONFIG_FILE_ATTR
        from hpo.search.share import refuse_other_budget, stored_share, wait_for_share

        study, share = None, None
        if config.study.budget is not None:
            study, share = stored_share(config.study.name, config.storage_url)
            refuse_other_budget(config.study, share)  # before anything is written
        if worker and config.study.budget is not None:
            # A worker of a budgeted job runs what its owner planned, once it has: the search
            # space, lengths and trials the plan chose, not the config as the user gave it.
            if study is None or share is None:
                study, share = wait_for_share(config.study.name, config.storage_url)
            if share.ended():
                logger.info(
                    "The search's share of study %r has ended: no trial to start.",
                    config.study.name,
                )
                return study
            planned = study.user_attrs.get(CONFIG_FILE_ATTR)
            if planned:
                logger.info("Running the config the budgeted run planned: %s", planned)
                config = load_config(
                    planned, study_name=config.study.name, storage=config.storage_url
                )
        if workers > 1:
            from hpo.search.workers import search_with_workers

            return search_with_workers(
                config.study_setup, config.model, config.data, workers, quiet=quiet
            )
        from hpo.search import loop

        return loop.run_search(config, quiet=quiet, worker=worker)


def run(
    config: HpoConfig,
    *,
    seeds: int = 1,
    with_reference: bool | None = None,
    quiet: bool = False,
    started: float | None = None,
    on_plan: Callable[[Plan], None] | None = None,
    part: str | None = None,
) -> Path:
    """The whole job (``hpo run``): search, export, retrain and test once, baselines, the
    shipped model chosen on validation, report. A finished stage is reused. With
    ``study.budget`` the job is planned first and kept within the budget, counted from
    ``started`` (``time.time()``, default this call); ``on_plan`` is shown the plan before
    anything runs. Returns the report's path.

    ``part`` runs a budgeted job in two processes, as ``hpo launch slurm --budget`` does:
    ``"search"`` plans on this machine and runs the search (returns ``plan.json``'s path);
    ``"final"`` goes on from the stored study with the same plan, its budget counted from when
    the search part began."""
    from hpo.pipeline import run_all

    _check_seeds(seeds)
    with config_source(config.source):
        return run_all(
            config,
            quiet=quiet,
            seeds=seeds,
            with_reference=with_reference,
            started=started,
            on_plan=on_plan,
            part=part,
        )


def plan_budget(config: HpoConfig, *, with_reference: bool = False) -> Plan:
    """The plan ``hpo run`` makes for ``config``'s ``study.budget`` (``hpo plan``): profiles the
    data and measures the machine (both cached), checks it with a few steps, trains nothing;
    the plan a run of the same config was started with, where there is one."""
    from hpo.plan.budgeted import plan_budget as make
    from hpo.runs import RunLayout

    with config_source(config.source):
        if config.study.budget is None:
            raise ConfigError(
                "a plan needs a budget: pass --budget (e.g. --budget 45m), set study.budget, "
                "or pass budget='45m' to hpo.load_config."
            )
        saved = RunLayout(config.output_dir).plan
        return make(config, with_reference=with_reference, saved=saved)[1]


def open_study(config: HpoConfig) -> optuna.Study:
    """The config's study from its storage, creating nothing (no database, no study)."""
    from hpo.search.storage import load_existing_study

    with config_source(config.source):
        return load_existing_study(config.study.name, config.storage_url, config.source)


def load_predictor(model_dir: str | Path, *, fast: bool = False) -> Predictor:
    """A saved final model (``runs/<study>/final/model``), ready to label texts the way it was
    trained (its length and truncation, from its record): the same predictions as
    ``hpo predict``. ``fast``: through the int8 OpenVINO model ``hpo quantize`` wrote."""
    from hpo.final.predict import Predictor

    return Predictor(model_dir, fast=fast)


def export_best_params(config: HpoConfig, output: str | Path | None = None) -> dict[str, Any]:
    """Write the stored study's best params with provenance as YAML (``hpo export``) to
    ``output`` (default ``runs/<study>/best_params.yaml``); returns the document written."""
    from hpo.final.best_params import export_best
    from hpo.runs import RunLayout

    with config_source(config.source):
        out = output or RunLayout(config.output_dir).best_params
        return export_best(
            open_study(config), config.trainer_setup, config.data, out, config.storage_url
        )


def retrain(
    config: HpoConfig,
    *,
    params: str | Path | None = None,
    reference: bool = False,
    seeds: int = 1,
    quiet: bool = False,
) -> FinalMetrics:
    """The final stage (``hpo retrain``): the best trial's params (or those ``hpo export``
    wrote to ``params``; or, with ``reference``, the reference setup for as many epochs) trained
    ``seeds`` times on the training split, tested once. Returns the tuned transformer's test
    metrics; the model is in ``runs/<study>/final/model`` (``reference/model``). With
    ``study.ship: best`` the TF-IDF baseline is fitted too, and the folder serves whichever of
    the two, or their blend, scored highest on validation (``final/choice.json``)."""
    from hpo.final.baselines import run_baselines
    from hpo.final.retrain import plan_from_file, plan_from_study, plan_reference, train_and_test
    from hpo.final.ship import ship_best
    from hpo.runs import RunLayout

    _check_seeds(seeds)
    with config_source(config.source):
        evals = config.study.evals_per_epoch
        if params:
            plan = plan_from_file(params, config.search_space, config.training, evals)
        else:
            plan = plan_from_study(open_study(config), evals)
        layout = RunLayout(config.output_dir)
        out = layout.final
        if reference:
            plan = plan_reference(config.reference, config.search_space, plan.stop_epoch)
            out = layout.reference
        metrics = train_and_test(config, plan, out, seeds=seeds, quiet=quiet)
        if not reference and config.study.ship == "best":
            # The folder holds the model chosen on validation: TF-IDF (cheap) is its rival.
            run_baselines(config.trainer_setup, config.data)
            run = config.output_dir
            ship_best(config.study, config.data, model_name=config.model.name, output_dir=run)
        return metrics


def make_report(config: HpoConfig) -> Path:
    """Rebuild ``runs/<study>/report.md`` and its plots from what the stages wrote."""
    from hpo.report.markdown import make_report as make

    with config_source(config.source):
        return make(config)


def trials_table(config: HpoConfig) -> str:
    """The stored study's trials as a text table (``hpo trials``)."""
    from hpo.report.trials_table import trials_table as table

    with config_source(config.source):
        return table(open_study(config), config.study.metric)


def launch_slurm(config: HpoConfig, job: SlurmJob, *, dry_run: bool = False) -> Launched:
    """Prepare the study, write its Slurm job array of ``hpo worker`` tasks and submit it
    (``hpo launch slurm``); what was written and the job ids (None for ``dry_run``, which only
    writes the scripts and the config the tasks run). With ``study.budget``, the whole job on
    the cluster within it: the array (task 0 plans on its node and owns the deadline) and a
    final job after it. A budget that cannot hold a trial and the final stage for
    ``job.workers`` trials at once, as planned on this machine, is refused before anything is
    written or submitted."""
    from hpo.search.launch import check_storage, launch

    with config_source(config.source):
        check_storage(config.storage_url)  # before the plan's check measures anything
        if config.study.budget is not None:  # the plan shares the search among the tasks
            config = dataclasses.replace(
                config, study=dataclasses.replace(config.study, workers=job.workers)
            )
            if not dry_run:
                from hpo.plan.budgeted import plan_budget

                plan_budget(config, with_reference=False)
        given = config.to_yaml(absolute=True, given=True)
        return launch(
            config.study_setup, config.model, config.data, job, given=given, dry_run=dry_run
        )


def dashboard(
    config: HpoConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Attach what the final stage produced to the study, then serve optuna-dashboard on it
    until interrupted (``hpo dashboard``). ``on_ready`` is called once the study is found and
    before serving starts (the CLI prints the address then, not for a study that is missing)."""
    from hpo.report.dashboard import attach_artifacts, final_stage_files, serve
    from hpo.runs import RunLayout

    with config_source(config.source):
        study = open_study(config)
        layout = RunLayout(config.output_dir)
        attach_artifacts(study, layout.artifacts, final_stage_files(layout))
        if on_ready is not None:
            on_ready()
        serve(config.storage_url, layout.artifacts, host=host, port=port)


def model_record(model_dir: str | Path) -> ModelRecord:
    """What a final model folder was trained on (length, truncation, columns, labels), or the
    one-line error that says the folder is no model."""
    from hpo.final.predict import model_record as read

    return read(model_dir)


def read_texts(
    path: str,
    model_dir: str | Path,
    *,
    text_column: str | None = None,
    pair_column: str | None = None,
    command: str = "predict",
) -> list[Any]:
    """Texts for the model of ``model_dir`` from a file (``hpo predict --file``): a table by its
    column (default: the model's own text and pair columns), any other file a text a line."""
    from hpo.final.predict import read_texts as read

    record = model_record(model_dir)
    return read(
        path,
        text_column=text_column or record.text_column,
        pair_column=pair_column or record.text_pair_column,
        command=command,
    )


def predict(
    model_dir: str | Path,
    texts: Iterable[Any],
    *,
    batch_size: int | None = None,
    fast: bool = False,
) -> Iterator[dict[str, Any]]:
    """``{"label", "probability", "probabilities", "text"}`` per text, as ``hpo predict``
    prints them, chunk by chunk (:class:`hpo.final.predict.Predictor`)."""
    from hpo.final.predict import predict as answers

    if batch_size is not None and batch_size < 1:
        raise HpoError(f"--batch-size must be >= 1, got {batch_size}.")
    return answers(model_dir, texts, batch_size=batch_size, fast=fast)


def quantize(
    model_dir: str | Path,
    *,
    calibrate: str | None = None,
    text_column: str | None = None,
    pair_column: str | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Write the int8 OpenVINO model that ``predict(..., fast=True)`` scores with (``hpo
    quantize``). ``calibrate``: a file of texts like the ones to be scored (read as
    :func:`read_texts` reads it), on whose first texts every product is calibrated and on the
    next ones the int8 model's agreement with the fp32 one is measured. Returns the model's
    path and its record (``agreement`` among its keys when it was measured)."""
    import json

    from hpo.export.openvino import CALIBRATION_TEXTS, FAST_RECORD
    from hpo.export.openvino import quantize as make
    from hpo.final.predict import encode_texts

    record = model_record(model_dir)  # a model folder, or the one-line error
    calibration = None
    if calibrate:
        texts = read_texts(
            calibrate,
            model_dir,
            text_column=text_column,
            pair_column=pair_column,
            command="quantize",
        )[: 2 * CALIBRATION_TEXTS]
        if not texts:
            raise HpoError(f"quantize: --calibrate {calibrate} has no texts.")
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        calibration = encode_texts(tokenizer, record, texts)
    path = make(model_dir, calibration=calibration)
    return path, json.loads((path.parent / FAST_RECORD).read_text(encoding="utf-8"))


def _check_seeds(seeds: int) -> None:
    if seeds < 1:
        raise HpoError(f"--seeds must be >= 1, got {seeds}.")
