"""The saved model's record: one writer, one reader, defaults for what a model lacks."""

from __future__ import annotations

import json
from pathlib import Path

from hpo.final.record import RECORD_FILE, ModelRecord


def test_a_model_record_without_the_keys_was_cut_at_the_head() -> None:
    record = ModelRecord.from_dict({})
    assert (record.truncation, record.head_fraction) == ("head", 0.25)
    assert ModelRecord.from_dict({"truncation": "tail", "head_fraction": 0.5}).truncation == "tail"


def test_written_record_reads_back_the_same(tmp_path: Path) -> None:
    record = ModelRecord(
        max_length=192,
        truncation="head+tail",
        head_fraction=0.25,
        text_column="review",
        text_pair_column=None,
        labels=("neg", "pos"),
        params={"learning_rate": 1e-4},
        source="study 's' trial 2",
        model="packaged:all-MiniLM-L6-v2",
    )
    record.write(tmp_path)
    assert ModelRecord.read(tmp_path) == record
    on_disk = json.loads((tmp_path / RECORD_FILE).read_text())
    assert on_disk["labels"] == ["neg", "pos"] and on_disk["max_length"] == 192


def test_a_model_hpo_did_not_save_reads_as_the_defaults(tmp_path: Path) -> None:
    assert ModelRecord.read(tmp_path) == ModelRecord()
    assert ModelRecord().max_length == 512 and ModelRecord().text_column == "text"


def test_keys_of_a_newer_record_are_ignored(tmp_path: Path) -> None:
    (tmp_path / RECORD_FILE).write_text(json.dumps({"max_length": 64, "quantized": True}))
    assert ModelRecord.read(tmp_path) == ModelRecord(max_length=64)
