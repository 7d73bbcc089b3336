"""Arms run once per training seed: the names of their runs, and what the seeds say.

One run an arm compares two runs, not two procedures: McNemar's test on the same test examples
asks whether two models differ, and two runs of one procedure that differ only in their pace
can (issue 34). Run each arm at several seeds (``training.seed``, the final stage's seed: its
head's initial weights and its order of examples) and the spread of one procedure over its
seeds is the yardstick for a difference between two. Runs are named ``arm@seed``; an arm is
compared with its base at the same seed, and across seeds by the paired differences.
"""

from __future__ import annotations

import itertools
import statistics
from typing import Any


def run_name(arm: str, seed: int | None) -> str:
    """The run of ``arm`` at ``seed``: the arm alone where no seed is set."""
    return arm if seed is None else f"{arm}@{seed}"


def arm_of(name: str) -> str:
    """The arm of a run's name (``b@43`` -> ``b``)."""
    return name.partition("@")[0]


def seed_of(name: str) -> int | None:
    """The seed of a run's name, or None where it has none."""
    _, at, seed = name.partition("@")
    return int(seed) if at else None


def parse_seeds(text: str | None) -> list[int | None]:
    """``--seeds 42,43,44`` as a list; ``[None]`` (one run an arm, the config's seed) without
    it. Raises ValueError naming the value that is not a whole number, or a seed given twice."""
    if not text:
        return [None]
    seeds: list[int | None] = []
    for item in text.split(","):
        try:
            seed = int(item)
        except ValueError:
            raise ValueError(f"--seeds {text!r}: {item!r} is not a whole number") from None
        if seed in seeds:
            raise ValueError(f"--seeds {text!r}: seed {seed} is given twice")
        seeds.append(seed)
    return seeds


def sign_flip_p(differences: list[float]) -> float | None:
    """Two-sided exact p of paired differences across seeds being centred on zero: the share of
    the ``2**n`` ways to flip their signs whose mean lies as far from zero as the observed one.
    ``n`` seeds can give no less than ``2 / 2**n`` (0.5 for two, 0.0625 for five)."""
    if not differences:
        return None
    observed = abs(sum(differences)) - 1e-12
    flips = itertools.product((1, -1), repeat=len(differences))
    means = (abs(sum(s * d for s, d in zip(f, differences, strict=True))) for f in flips)
    hits = sum(m >= observed for m in means)
    return hits / 2 ** len(differences)


def across_seeds(rows: dict[str, dict[str, Any]], bases: dict[str, str]) -> dict[str, Any]:
    """Per arm, its transformer's and its shipped model's test accuracy at each seed, their
    mean and range; per arm with a base (``bases``: arm -> the arm it is compared with), the
    differences from the base at each seed both ran (in accuracy, arm minus base), their mean
    and :func:`sign_flip_p`. Failed runs are left out."""
    out: dict[str, Any] = {}
    for arm in dict.fromkeys(arm_of(name) for name in rows):
        entry: dict[str, Any] = {}
        for model, key in (("tuned", "tuned_accuracy"), ("shipped", "shipped_accuracy")):
            scores = _scores(rows, arm, key)
            if not scores:
                continue
            values = list(scores.values())
            entry[model] = {
                "by_seed": scores,
                "mean": statistics.fmean(values),
                "range": [min(values), max(values)],
            }
            base = bases.get(arm)
            if base is None:
                continue
            theirs = _scores(rows, base, key)
            diffs = {seed: scores[seed] - theirs[seed] for seed in scores if seed in theirs}
            if diffs:
                entry[model][f"minus_{base}"] = {
                    "by_seed": diffs,
                    "mean": statistics.fmean(diffs.values()),
                    "sign_flip_p": sign_flip_p(list(diffs.values())),
                }
        if entry:
            out[arm] = entry
    return out


def _scores(rows: dict[str, dict[str, Any]], arm: str, key: str) -> dict[int, float]:
    return {
        seed: row[key]
        for name, row in rows.items()
        if arm_of(name) == arm and key in row and (seed := seed_of(name)) is not None
    }
