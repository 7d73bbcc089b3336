"""The record saved next to a final model (``hpo_final.json``): what predicting with it needs
beside the weights, and where it came from.

One typed record with one writer (:meth:`ModelRecord.write`, called by the final stage) and one
reader (:meth:`ModelRecord.read`, used by ``hpo predict`` and :class:`hpo.final.predict.
Predictor`). A model saved elsewhere, or before a key existed, reads as the defaults below: the
tokenizer's own cut at 512 tokens, from the head, a column named ``text``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hpo.runs import write_atomically

#: The record's file name inside a model folder.
RECORD_FILE = "hpo_final.json"
#: The subfolder of a model folder that holds its TF-IDF model, when that is served.
CLASSICAL_DIR = "classical"


@dataclass(frozen=True)
class ModelRecord:
    """How a saved model was trained, as far as predicting with it is concerned."""

    #: Tokens per text (or pair) the model was trained on.
    max_length: int = 512
    #: Which tokens of a longer text it saw: ``head``, ``tail`` or ``head+tail``.
    truncation: str = "head"
    #: The head's share of ``max_length`` under ``head+tail``.
    head_fraction: float = 0.25
    #: The training data's text column (``hpo predict --file`` reads it by default).
    text_column: str = "text"
    #: The second text's column of a pair model; None for single texts.
    text_pair_column: str | None = None
    #: Class names by id (also the model config's ``id2label``).
    labels: tuple[str, ...] = ()
    #: The params it was trained with (the searched keys).
    params: dict[str, Any] = field(default_factory=dict)
    #: Where the params came from ("study 'imdb' trial 4", "reference setup").
    source: str = ""
    #: The backbone it was fine-tuned from (``model.name``).
    model: str = ""
    #: What ``hpo predict`` serves (:mod:`hpo.final.choice`): ``tuned`` (the transformer),
    #: ``classical`` (the TF-IDF model in :data:`CLASSICAL_DIR`) or ``blend`` (both).
    shipped: str = "tuned"
    #: The transformer's share of the served probabilities (1 tuned, 0 classical).
    weight: float = 1.0

    def write(self, model_dir: Path) -> None:
        """Write the record into ``model_dir`` (atomically)."""
        data = dataclasses.asdict(self)
        data["labels"] = list(self.labels)
        write_atomically(model_dir / RECORD_FILE, json.dumps(data, indent=2) + "\n")

    @classmethod
    def read(cls, model_dir: Path) -> ModelRecord:
        """The record in ``model_dir``; the defaults for a model hpo did not save."""
        path = model_dir / RECORD_FILE
        if not path.is_file():
            return cls()
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelRecord:
        """A record from its JSON form; keys a newer hpo wrote and this one lacks are ignored,
        keys an older one did not write take their defaults."""
        names = {f.name for f in dataclasses.fields(cls)}
        known = {k: v for k, v in data.items() if k in names}
        if "labels" in known:
            known["labels"] = tuple(known["labels"])
        return cls(**known)
