"""The Python API: what the CLI does, one call each, for notebooks and scripts.

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

Each raises the same :class:`hpo.errors.HpoError` (with the config's file named) that the CLI
turns into one line and exit code 2. Nothing heavy is imported until a call needs it, so
``import hpo`` stays light.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpo.config.loader import load_config as _load_structure
from hpo.errors import ConfigError, config_source

if TYPE_CHECKING:
    import optuna

    from hpo.config.schema import HpoConfig
    from hpo.final.predict import Predictor
    from hpo.plan.decision import Plan


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
            check_training_setup(config)
    return config


def run_search(config: HpoConfig, *, workers: int = 1, quiet: bool = False) -> optuna.Study:
    """Run (or resume) the study's search until it holds ``study.n_trials`` finished trials;
    ``workers`` processes on this machine share it."""
    with config_source(config.source):
        if workers > 1:
            from hpo.search.workers import search_with_workers

            return search_with_workers(config, workers, quiet=quiet)
        from hpo.search import loop

        return loop.run_search(config, quiet=quiet)


def run(
    config: HpoConfig, *, seeds: int = 1, with_reference: bool | None = None, quiet: bool = False
) -> Path:
    """The whole job (``hpo run``): search, export, retrain on all of train, test once,
    baselines, report. A finished stage is reused. With ``study.budget`` the job is planned
    first and kept within the budget, counted from this call. Returns the report's path."""
    from hpo.pipeline import run_all

    with config_source(config.source):
        return run_all(config, quiet=quiet, seeds=seeds, with_reference=with_reference)


def plan_budget(config: HpoConfig, *, with_reference: bool = False) -> Plan:
    """The plan ``hpo run`` makes for ``config``'s ``study.budget`` (``hpo plan``): profiles the
    data and measures the machine (both cached), checks it with a few steps, trains nothing;
    the plan a run of the same config was started with, where there is one."""
    from hpo.plan.budgeted import plan_budget as make
    from hpo.runs import RunLayout

    with config_source(config.source):
        if config.study.budget is None:
            raise ConfigError("study.budget is not set: pass budget='30m' to hpo.load_config.")
        saved = RunLayout.of(config).plan
        return make(config, with_reference=with_reference, saved=saved)[1]


def open_study(config: HpoConfig) -> optuna.Study:
    """The config's study from its storage, creating nothing (no database, no study)."""
    from hpo.search.storage import load_existing_study

    with config_source(config.source):
        return load_existing_study(config)


def load_predictor(model_dir: str | Path, *, fast: bool = False) -> Predictor:
    """A saved final model (``runs/<study>/final/model``), ready to label texts the way it was
    trained (its length and truncation, from its record): the same predictions as
    ``hpo predict``. ``fast``: through the int8 OpenVINO model ``hpo quantize`` wrote."""
    from hpo.final.predict import Predictor

    return Predictor(model_dir, fast=fast)
