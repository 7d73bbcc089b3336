"""What every benchmark saves beside its figures: the commit, the machine, and where it wrote.

The figures only mean something with the machine they came from (one "AMD EPYC" VM has
AVX-512 with bf16, another AVX2 only, and trains several times slower), so every record names
the CPU's vector units as well as its model name.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # hpo, when a benchmark runs from a checkout


def commit() -> str | None:
    """The commit the benchmark ran on, "+dirty" when tracked files had changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return None
    return f"{head}+dirty" if head and dirty else head or None


def machine() -> dict[str, Any]:
    """The CPU (name and vector capability), cores, GPU and library versions."""
    import torch
    import transformers

    from hpo.plan.measure import cpu_name

    return {
        "cpu": cpu_name(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_count": len(os.sched_getaffinity(0)),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
    }


def write(out: str | Path, bench: str, record: dict[str, Any]) -> Path:
    """Save ``record`` as bench/results-style JSON named by date, host and bench; print where."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    now, host = datetime.now(UTC), socket.gethostname()
    path = folder / f"{now:%Y-%m-%d}-{host}.{bench}.json"
    full = {
        "bench": bench,
        "date": now.isoformat(timespec="seconds"),
        "host": host,
        "commit": commit(),
        "machine": machine(),
        **record,
    }
    path.write_text(json.dumps(full, indent=2) + "\n")
    print(f"wrote {path}")
    return path
