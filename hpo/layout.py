"""``runs/<study>/`` and every path in it, named in one place.

```
runs/<study>/
  config.yaml          the study's resolved config (absolute paths): `hpo search` runs it again
  trials/              Trainer's output_dir during the search (no checkpoints are kept)
  zero_shot/           Trainer's output_dir while the zero-shot baseline is scored
  best_params.yaml     `hpo export`
  final/               the tuned model: model/ (with hpo_final.json), metrics.json
  reference/           the reference setup retrained (`hpo retrain --reference`, `hpo run`)
  baselines.json       classical and zero-shot baselines
  report.md, *.png     `hpo report`
  artifacts/           optuna-dashboard's artifact store
```
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hpo.config import HpoConfig


@dataclass(frozen=True)
class RunLayout:
    """The files of one study's run folder (``training.output_dir``, default runs/<study>)."""

    root: Path

    @classmethod
    def of(cls, config: HpoConfig) -> RunLayout:
        """The layout of ``config``'s run folder."""
        return cls(config.output_dir)

    @property
    def config_file(self) -> Path:
        """The resolved config of the study's latest search."""
        return self.root / "config.yaml"

    @property
    def zero_shot(self) -> Path:
        """Trainer's ``output_dir`` while the zero-shot baseline is scored (nothing is kept)."""
        return self.root / "zero_shot"

    @property
    def trials(self) -> Path:
        """Trainer's ``output_dir`` during trials."""
        return self.root / "trials"

    @property
    def best_params(self) -> Path:
        """Where ``hpo run`` exports the best params."""
        return self.root / "best_params.yaml"

    @property
    def final(self) -> Path:
        """The tuned model and its test metrics."""
        return self.root / "final"

    @property
    def reference(self) -> Path:
        """The reference setup, retrained and tested."""
        return self.root / "reference"

    @property
    def baselines(self) -> Path:
        """Classical and zero-shot baseline results."""
        return self.root / "baselines.json"

    @property
    def report(self) -> Path:
        """The final report (its plots lie beside it)."""
        return self.root / "report.md"

    @property
    def artifacts(self) -> Path:
        """optuna-dashboard's artifact store."""
        return self.root / "artifacts"


#: The record next to a saved model: what predicting with it needs beside the weights.
MODEL_RECORD = "hpo_final.json"


def model_dir(stage_dir: Path) -> Path:
    """The saved model of a final-stage folder (``final/`` or ``reference/``)."""
    return stage_dir / "model"


def checkpoints_dir(stage_dir: Path) -> Path:
    """Trainer's ``output_dir`` while a final-stage model trains (it writes no checkpoint)."""
    return stage_dir / "checkpoints"


def write_model_record(model_dir: Path, record: dict[str, Any]) -> None:
    """Write the model's record (``max_length``, ``text_column``, label names, params, ...)."""
    write_atomically(model_dir / MODEL_RECORD, json.dumps(record, indent=2) + "\n")


def read_model_record(model_dir: Path) -> dict[str, Any]:
    """The record next to a model saved by ``hpo retrain`` ({} for a model saved elsewhere)."""
    path = model_dir / MODEL_RECORD
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: a reader, or a crash
    halfway, never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
