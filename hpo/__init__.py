"""hpo: honest hyperparameter search for transformer text classifiers.

Built on ``transformers.Trainer.hyperparameter_search`` with the Optuna backend; trials live in
Optuna storage (SQLite by default) so a study can be resumed and browsed in optuna-dashboard.
The Python API (:mod:`hpo.api`) is re-exported here.
"""

from __future__ import annotations

from hpo.api import load_config, load_predictor, open_study, plan_budget, run, run_search
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
    "load_config",
    "load_predictor",
    "open_study",
    "plan_budget",
    "run",
    "run_search",
]

__version__ = "0.1.0"
