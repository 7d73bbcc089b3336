"""The last step of the final stage: choose on validation which model to hand over, put it in
``final/model``, then score every candidate on test.

The tuned transformer's and the TF-IDF model's validation probabilities (neither trained on
validation) decide, through :func:`hpo.final.choice.choose`; only then are the candidates'
test probabilities, saved when each model was scored, turned into test figures. The model
folder keeps the transformer (``transformers.pipeline`` loads it as before) and, when TF-IDF is
part of what was chosen, its plain-data files in ``classical/``; its record says what
``hpo predict`` serves.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from typing import TYPE_CHECKING

import numpy as np

from hpo.data.labels import names_of
from hpo.data.sources import load_raw
from hpo.data.splits import stage_splits
from hpo.errors import HpoError
from hpo.final.card import write_card
from hpo.final.choice import (
    CANDIDATES,
    PROBABILITIES,
    TITLES,
    Choice,
    choose,
    load_probabilities,
    mix,
)
from hpo.final.metrics import Results, Scores
from hpo.final.record import CLASSICAL_DIR, ModelRecord
from hpo.final.scoring import score
from hpo.runs import RunLayout, model_dir, write_atomically
from hpo.train.objective import objective_for

if TYPE_CHECKING:
    from pathlib import Path

    from hpo.config.schema import DataSection, StudySection

logger = logging.getLogger(__name__)

#: The choice's record in the final stage's folder.
CHOICE_FILE = "choice.json"


def ship_best(
    study: StudySection, data: DataSection, *, model_name: str, output_dir: Path
) -> Choice | None:
    """Choose, hand over and score (see the module) in the run folder ``output_dir``; None
    with ``study.ship: tuned``, where the tuned transformer is handed over as it is."""
    if study.ship != "best":
        return None
    layout = RunLayout(output_dir)
    tuned_file = layout.final / PROBABILITIES
    classical_file = layout.classical / PROBABILITIES
    for path, stage in ((tuned_file, "final"), (classical_file, "baselines")):
        if not path.is_file():
            raise HpoError(
                f"{path}: missing, so the shipped model cannot be chosen. Run the {stage} "
                "stage again (`hpo run` redoes what is missing)."
            )
    tuned_val, tuned_test = load_probabilities(tuned_file)
    classical_val, classical_test = load_probabilities(classical_file)
    raw, _ = load_raw(data)
    splits = stage_splits(raw, data, "holdout").splits
    val_labels = np.asarray(splits["validation"]["label"])
    labels = tuple(names_of(splits["train"]))
    objective = objective_for(study.metric, labels, positive_label=data.positive_label)
    if tuned_val.shape != classical_val.shape or len(val_labels) != len(tuned_val):
        raise HpoError(
            f"{tuned_file} and {classical_file} hold probabilities of different validation "
            "examples. Delete both folders' results and run `hpo run` again."
        )
    choice = choose(tuned_val, classical_val, val_labels, objective)
    logger.info(
        "Shipping the %s: validation %s %s",
        TITLES[choice.shipped],
        objective.metric,
        ", ".join(f"{TITLES[n]} {choice.validation[n]:.4f}" for n in CANDIDATES),
    )
    _hand_over(model_dir(layout.final), layout, choice)
    # Only now is test read, to report every candidate's figures.
    test_labels = np.asarray(splits["test"]["label"])
    weights = {"tuned": 1.0, "classical": 0.0, "blend": choice.blend_weight}
    test = {}
    for name in CANDIDATES:
        probs = mix(tuned_test, classical_test, weights[name])
        predictions = probs.argmax(1)
        scores = score(predictions, test_labels, labels, objective)
        test[name] = Scores.from_dict({**scores, "predictions": predictions.tolist()})
    choice = dataclasses.replace(choice, test=test)
    write_atomically(layout.final / CHOICE_FILE, json.dumps(choice.to_dict(), indent=2) + "\n")
    # The card says what the folder now serves, beside what the pipeline gives.
    results = Results.read(
        layout.final / "metrics.json", layout.reference / "metrics.json", layout.baselines
    )
    if results.tuned is not None:
        write_card(
            model_dir(layout.final),
            results.tuned,
            data=data,
            study=study,
            model_name=model_name,
            baselines={"classical": results.classical},
            test_labels=test_labels.tolist(),
            choice=choice,
        )
    return choice


def _hand_over(folder: Path, layout: RunLayout, choice: Choice) -> None:
    """The model folder serves the choice: TF-IDF's files copied in where it is part of it."""
    target = folder / CLASSICAL_DIR
    if target.exists():
        shutil.rmtree(target)
    if choice.weight < 1.0:
        shutil.copytree(layout.classical / "model", target)
    record = ModelRecord.read(folder)
    dataclasses.replace(record, shipped=choice.shipped, weight=choice.weight).write(folder)
