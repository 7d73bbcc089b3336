"""The backbone from a hub id, a folder or a package, and one-line errors for each."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpo.errors import ModelError
from hpo.train.model import resolve


def test_folders_and_hub_ids(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    assert resolve(str(tiny_models["bert"])) == str(tiny_models["bert"])
    assert resolve("distilbert-base-uncased") == "distilbert-base-uncased"
    with pytest.raises(ModelError, match="is not a model folder"):
        resolve(str(tmp_path))
    with pytest.raises(ModelError, match="does not exist"):
        resolve("./no/such/model")


def test_packaged_models() -> None:
    assert Path(resolve("packaged:all-MiniLM-L6-v2"), "config.json").is_file()
    with pytest.raises(ModelError, match="unknown packaged model 'packaged:nope'"):
        resolve("packaged:nope")
