"""hpo: honest hyperparameter search for transformer text classifiers.

Built on ``transformers.Trainer.hyperparameter_search`` with the Optuna backend; trials live in
Optuna storage (SQLite by default) so a study can be resumed and browsed in optuna-dashboard.
The Python API (:mod:`hpo.api`), which every ``hpo`` command calls, is re-exported here.
"""

from __future__ import annotations

from hpo.api import (
    dashboard,
    export_best_params,
    launch_slurm,
    load_config,
    load_predictor,
    make_report,
    model_record,
    open_study,
    plan_budget,
    predict,
    quantize,
    read_texts,
    retrain,
    run,
    run_search,
    trials_table,
)
from hpo.config.schema import HpoConfig
from hpo.errors import ConfigError, DataError, HpoError, ModelError, OfflineError, StorageError

__all__ = [
    "ConfigError",
    "DataError",
    "HpoConfig",
    "HpoError",
    "ModelError",
    "OfflineError",
    "StorageError",
    "__version__",
    "dashboard",
    "export_best_params",
    "launch_slurm",
    "load_config",
    "load_predictor",
    "make_report",
    "model_record",
    "open_study",
    "plan_budget",
    "predict",
    "quantize",
    "read_texts",
    "retrain",
    "run",
    "run_search",
    "trials_table",
]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("hpo-tune")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"


__version__ = _version()
