"""hpo: honest hyperparameter search for transformer text classifiers.

Built on ``transformers.Trainer.hyperparameter_search`` with the Optuna backend; trials live in
Optuna storage (SQLite by default) so a study can be resumed and browsed in optuna-dashboard.
"""

from __future__ import annotations

from hpo.config import HpoConfig
from hpo.errors import ConfigError, DataError, HpoError, ModelError, OfflineError, StorageError
from hpo.load import load_config

__all__ = [
    "ConfigError",
    "DataError",
    "HpoConfig",
    "HpoError",
    "ModelError",
    "OfflineError",
    "StorageError",
    "load_config",
]

__version__ = "0.1.0"
