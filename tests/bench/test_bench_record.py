"""bench/_record.py: every benchmark's results file names its commit and machine."""

from __future__ import annotations

import json
from pathlib import Path

import _record
import torch


def test_a_record_names_the_bench_commit_and_the_cpus_vector_units(tmp_path: Path) -> None:
    path = _record.write(tmp_path / "results", "demo", {"figure": 1.5})
    assert path.parent == tmp_path / "results" and path.name.endswith(".demo.json")
    record = json.loads(path.read_text())
    assert record["bench"] == "demo" and record["figure"] == 1.5
    assert record["commit"] and record["commit"].split("+")[0].isalnum()
    assert record["machine"]["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert record["machine"]["cpu_count"] >= 1
