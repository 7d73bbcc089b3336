"""``runs/<study>/`` and every path in it, named in one place; atomic writes; and the one rule
for reusing a stage's results.

```
runs/<study>/
  config.yaml          the study's resolved config (absolute paths): `hpo search` runs it again
  plan.json            a budgeted run's plan, and each stage's planned and actual seconds
  trials/              Trainer's output_dir during the search (no checkpoints are kept)
  zero_shot/           Trainer's output_dir while the zero-shot baseline is scored
  best_params.yaml     `hpo export`
  final/               the shipped model: model/ (with hpo_final.json), metrics.json,
                       probabilities.npz and choice.json (which model was shipped, and why)
  reference/           the reference setup retrained (`hpo retrain --reference`, `hpo run`)
  baselines.json       classical and zero-shot baselines
  classical/           the TF-IDF model as plain data (model/), its probabilities
  report.md, *.png     `hpo report`
  artifacts/           optuna-dashboard's artifact store
```
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpo.errors import HpoError

if TYPE_CHECKING:
    pass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunLayout:
    """The files of one study's run folder (``training.output_dir``, default runs/<study>)."""

    root: Path

    @property
    def config_file(self) -> Path:
        """The resolved config of the study's latest search."""
        return self.root / "config.yaml"

    @property
    def plan(self) -> Path:
        """A budgeted run's plan (``hpo run --budget``), with planned and actual seconds."""
        return self.root / "plan.json"

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
    def classical(self) -> Path:
        """The TF-IDF model as plain data (``model/``) and its probabilities."""
        return self.root / "classical"

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


def model_dir(stage_dir: Path) -> Path:
    """The saved model of a final-stage folder (``final/`` or ``reference/``)."""
    return stage_dir / "model"


def checkpoints_dir(stage_dir: Path) -> Path:
    """Trainer's ``output_dir`` while a final-stage model trains (it writes no checkpoint)."""
    return stage_dir / "checkpoints"


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


#: Key of a results file under which the inputs that made it are stored.
INPUTS_KEY = "inputs"


class OtherInputsError(HpoError):
    """A results file there was made from other inputs, and redoing it would destroy work."""


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file's bytes (hex), read a megabyte at a time."""
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def reuse_result(
    path: Path, inputs: Mapping[str, Any], *, refuse_other: bool, what: str
) -> dict[str, Any] | None:
    """The results file at ``path`` when it was made from ``inputs``, else None (make it).
    ``what`` names what the inputs are, for messages ("plan", "baselines").

    The one "reuse or refuse" rule of every stage: a stage whose results file records the same
    inputs is not done again. One made from other inputs is redone, or, with ``refuse_other``
    (a trained model: hours of work), refused with :class:`OtherInputsError` naming both, so
    nothing is overwritten silently. A file that records no inputs is compared on its
    top-level keys of the same names (results written before inputs were recorded).
    """
    if not path.exists():
        return None
    done = json.loads(path.read_text(encoding="utf-8"))
    stored = done.get(INPUTS_KEY) or {key: done.get(key) for key in inputs}
    if stored == dict(inputs):
        logger.info("Reusing %s: made from the same %s", path, what)
        return done
    if not refuse_other:
        return None
    changed = "; ".join(
        f"{key} {stored.get(key)!r} there, {inputs.get(key)!r} now"
        for key in sorted(set(stored) | set(inputs))
        if stored.get(key) != inputs.get(key)
    )
    raise OtherInputsError(
        f"{path.parent.absolute()} holds the results of another {what} ({changed}). Move or "
        "delete that folder to redo it, or set another --set training.output_dir."
    )


def save_result(path: Path, inputs: Mapping[str, Any], result: Mapping[str, Any]) -> dict[str, Any]:
    """Write ``result`` to ``path`` with the ``inputs`` it was made from; returns what was
    written."""
    out = {**result, INPUTS_KEY: dict(inputs)}
    write_atomically(path, json.dumps(out, indent=2) + "\n")
    return out
