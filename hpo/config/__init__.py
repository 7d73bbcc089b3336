"""The study config: what a study is (``schema``), how a file becomes one (``loader``, then
``validate``), the search space as Optuna distributions (``space``), Optuna's samplers and
pruners (``samplers``), the reference setup (``reference``), a wall-clock budget written as
``45m`` (``budget``) and the field docs the docs site's
reference is made of (``fields``).

Below everything but :mod:`hpo.errors`: nothing here imports torch or Transformers.
"""

from __future__ import annotations

from hpo.config.loader import load_config
from hpo.config.schema import DataSection, HpoConfig, ModelSection, ParamSpec, StudySection
from hpo.config.validate import config_from_dict

__all__ = [
    "DataSection",
    "HpoConfig",
    "ModelSection",
    "ParamSpec",
    "StudySection",
    "config_from_dict",
    "load_config",
]
