"""runs/<study>/: atomic writes, and the one rule for reusing a stage's results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hpo.runs import INPUTS_KEY, OtherInputsError, reuse_result, save_result, write_atomically


def test_same_inputs_are_reused_and_other_inputs_redone(tmp_path: Path) -> None:
    path = tmp_path / "baselines.json"
    assert reuse_result(path, {"a": 1}, refuse_other=False, what="baselines") is None
    written = save_result(path, {"a": 1}, {"score": 0.9})
    assert written == {"score": 0.9, INPUTS_KEY: {"a": 1}}
    assert reuse_result(path, {"a": 1}, refuse_other=False, what="baselines") == written
    assert reuse_result(path, {"a": 2}, refuse_other=False, what="baselines") is None


def test_other_inputs_are_refused_with_both_named(tmp_path: Path) -> None:
    path = tmp_path / "final" / "metrics.json"
    save_result(path, {"params": {"lr": 1}, "seeds": 1}, {"accuracy": 0.8})
    before = path.read_bytes()
    with pytest.raises(OtherInputsError, match="another plan") as info:
        reuse_result(path, {"params": {"lr": 2}, "seeds": 1}, refuse_other=True, what="plan")
    message = str(info.value)
    assert "params {'lr': 1} there, {'lr': 2} now" in message and "seeds" not in message
    assert str(path.parent.absolute()) in message and "\n" not in message
    assert path.read_bytes() == before


def test_a_file_from_before_inputs_were_recorded_compares_its_own_keys(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"params": {"lr": 1}, "seeds": 1, "accuracy": 0.8}))
    inputs = {"params": {"lr": 1}, "seeds": 1}
    assert reuse_result(path, inputs, refuse_other=True, what="plan")["accuracy"] == 0.8


def test_write_atomically_leaves_no_partial_file(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "x.txt"
    write_atomically(path, "whole")
    assert path.read_text() == "whole" and [p.name for p in path.parent.iterdir()] == ["x.txt"]
