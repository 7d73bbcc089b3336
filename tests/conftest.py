"""Offline fixtures: tiny random BERT/DistilBERT models, synthetic reviews, configs in tmp_path."""

from __future__ import annotations

import copy
import os
import shutil
import sqlite3
import sys
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import yaml

# No test may reach the network, and none may write outside its tmp dirs.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tiny import build_model, synthetic_reviews, write_jsonl

from hpo.final.record import ModelRecord

REPO = Path(__file__).resolve().parent.parent
# The benchmarks run as scripts with bench/ first on sys.path (bench/_record.py); their tests
# load them the same way.
sys.path.insert(0, str(REPO / "bench"))


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Folders holding a tiny random BERT and a tiny random DistilBERT, with a tokenizer."""
    root = tmp_path_factory.mktemp("models")
    return {arch: build_model(root / arch, arch) for arch in ("bert", "distilbert")}


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with train.jsonl (600 reviews) and test.jsonl (200), balanced."""
    root = tmp_path_factory.mktemp("data")
    write_jsonl(synthetic_reviews(600, seed=11), root / "train.jsonl")
    write_jsonl(synthetic_reviews(200, seed=12), root / "test.jsonl")
    return root


def base_config(model: Path, data: Path, tmp: Path) -> dict[str, Any]:
    """A small valid study config as plain data, with everything under ``tmp``."""
    return {
        "study": {
            "name": "t",
            "storage": f"sqlite:///{tmp / 'storage' / 't.db'}",
            "n_trials": 2,
            "sampler": {"type": "TPESampler", "seed": 0},
            "pruner": {"type": "none"},
            "evals_per_epoch": 2,
            "enqueue_reference": False,
        },
        "model": {"name": str(model)},
        "data": {
            "path": str(data),
            "label_names": ["neg", "pos"],
            "validation_fraction": 0.2,
            "max_length": 48,
            "cache_dir": str(tmp / "cache"),
        },
        "search_space": {
            "learning_rate": {"type": "float", "low": 1e-3, "high": 5e-3, "log": True},
            "per_device_train_batch_size": {"type": "categorical", "choices": [16, 32]},
            "num_train_epochs": {"type": "int", "low": 1, "high": 2},
        },
        "training": {
            "output_dir": str(tmp / "runs"),
            "per_device_eval_batch_size": 64,
            "logging_steps": 50,
            "seed": 0,
        },
    }


@pytest.fixture
def make_config(
    tiny_models: dict[str, Path], tiny_data: Path, tmp_path: Path
) -> Callable[..., Path]:
    """Write a config YAML into tmp_path; ``update`` is deep-merged into the base config."""

    def make(
        update: dict[str, Any] | None = None, *, arch: str = "bert", name: str = "study.yaml"
    ) -> Path:
        cfg = base_config(tiny_models[arch], tiny_data, tmp_path)
        _merge(cfg, update or {})
        path = tmp_path / name
        path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
        return path

    return make


def _merge(base: dict[str, Any], update: dict[str, Any]) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        elif value is _DELETE:
            base.pop(key, None)
        else:
            base[key] = copy.deepcopy(value)


_DELETE = object()


#: Epochs enough for the tiny model to learn, so a searched study has a best trial worth testing
#: and learning curves worth drawing.
LEARNS = {"study": {"n_trials": 2}, "search_space": {"num_train_epochs": {"low": 3, "high": 4}}}


@pytest.fixture(scope="session")
def searched_studies(
    tiny_models: dict[str, Path], tiny_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[dict[str, Any]], Path]:
    """``study(update)``: the SQLite file of ``make_config(update)``'s study searched, run once
    for every test that reads the same searched study (``searched_config`` copies it)."""
    from hpo.api import load_config
    from hpo.search.loop import run_search

    made: dict[str, Path] = {}

    def study(update: dict[str, Any]) -> Path:
        key = yaml.safe_dump(update, sort_keys=True)
        if key not in made:
            root = tmp_path_factory.mktemp("searched")
            cfg = base_config(tiny_models["bert"], tiny_data, root)
            _merge(cfg, update)
            path = root / "study.yaml"
            path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
            run_search(load_config(path), quiet=True)
            made[key] = root / "storage" / "t.db"
        return made[key]

    return study


@pytest.fixture
def searched_config(
    make_config: Callable[..., Path],
    searched_studies: Callable[[dict[str, Any]], Path],
    tmp_path: Path,
) -> Callable[[dict[str, Any]], Path]:
    """``make_config(update)`` with its study already searched: a copy of the one search of that
    config (SQLite's backup, so what its write-ahead log holds comes too), the test's to change."""

    def make(update: dict[str, Any]) -> Path:
        path = make_config(update)
        target = tmp_path / "storage" / "t.db"
        target.parent.mkdir(parents=True, exist_ok=True)
        source = searched_studies(update)
        with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
            src.backup(dst)
        return path

    return make


@pytest.fixture
def searched(searched_config: Callable[[dict[str, Any]], Path]) -> Path:
    """A config whose study has 2 finished trials of a model that learned (``LEARNS``)."""
    return searched_config(LEARNS)


@pytest.fixture
def delete() -> object:
    """Marker for ``make_config``: remove this key from the base config."""
    return _DELETE


@pytest.fixture
def folder(tmp_path: Path, tiny_models) -> Path:
    """A final model folder: a copy of the tiny untrained model with a head+tail record at 48
    tokens (the final stage's and the export's tests)."""
    out = tmp_path / "model"
    shutil.copytree(tiny_models["bert"], out)
    ModelRecord(max_length=48, truncation="head+tail", labels=("neg", "pos")).write(out)
    return out
