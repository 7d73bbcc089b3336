"""A machine's rates: seconds per example by token length for training and scoring, the fixed
costs, and on a CUDA device what fits in its memory (issue 37).

The machine measurement (:mod:`hpo.plan.measure`) records, on a CUDA device, the peak memory
of its training steps at each length (at the smallest batch the search can choose) and the
device's total; a length that ran out of memory there does not fit. A plan then only picks a
length whose peak, scaled to the largest batch it may train at, leaves
:data:`~hpo.plan.constants.MEMORY_HEADROOM` of the device free. A CPU records nothing, and
every length fits (memory there is the process's, which the trials' records watch instead).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from hpo.plan.constants import MEMORY_HEADROOM, OPTIMIZER_COPIES


@dataclass(frozen=True)
class MachineRates:
    """Seconds per example on this machine, by token length, and the fixed costs."""

    #: What the rates were measured for (model, device, precision, threads, batch sizes).
    key: dict[str, Any]
    #: Training seconds per example at each measured length (a batch of ``train_batch`` rows).
    train: dict[int, float]
    #: Scoring seconds per example at each measured length (a batch of ``eval_batch`` rows).
    eval: dict[int, float]
    #: Seconds to load the model once (every trial and every retrain does).
    load_seconds: float
    #: Seconds a ``train()`` call costs besides its steps (data loaders, optimizer, warm-up).
    setup_seconds: float
    train_batch: int = 16
    eval_batch: int = 64
    #: Seconds this measurement spent measuring (0 where every length came from the cache):
    #: what the plan is charged, as a job that finds the machine measured does not spend them.
    measured_seconds: float = field(default=0.0, compare=False)
    #: On a CUDA device: a training step's peak MiB at each length (``train_batch`` rows; inf
    #: where it ran out of memory), the device's MiB, and the MiB no batch changes.
    peak_mb: dict[int, float] = field(default_factory=dict)
    device_mb: float | None = None
    static_mb: float = 0.0

    def fits(self, length: int, batch: int) -> bool:
        """Whether ``length`` tokens at ``batch`` rows fit on the device with headroom."""
        return fits(
            self.peak_mb,
            self.device_mb,
            self.static_mb,
            length,
            batch=batch,
            measured=self.train_batch,
        )

    def train_cost(self, length: float) -> float:
        """Training seconds per example of ``length`` tokens (interpolated)."""
        return _interpolate(self.train, length)

    def eval_cost(self, length: float) -> float:
        """Scoring seconds per example of ``length`` tokens (interpolated)."""
        return _interpolate(self.eval, length)

    def scaled(self, train: float, scoring: float) -> MachineRates:
        """These rates with every training cost times ``train`` and every scoring cost times
        ``scoring`` (what a check of the machine now found, :mod:`hpo.plan.check`)."""
        return replace(
            self,
            train={k: v * train for k, v in self.train.items()},
            eval={k: v * scoring for k, v in self.eval.items()},
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MachineRates:
        """The rates :meth:`to_dict` wrote (a plan's ``machine``)."""
        return cls(
            key=dict(data["key"]),
            train={int(k): float(v) for k, v in data["train_seconds_per_example"].items()},
            eval={int(k): float(v) for k, v in data["eval_seconds_per_example"].items()},
            load_seconds=float(data["load_seconds"]),
            setup_seconds=float(data["setup_seconds"]),
            train_batch=int(data["train_batch"]),
            eval_batch=int(data["eval_batch"]),
            measured_seconds=float(data.get("measured_seconds", 0.0)),
            peak_mb=peaks_from_json(data.get("peak_mb")),
            device_mb=data.get("device_mb"),
            static_mb=float(data.get("static_mb", 0.0)),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for ``plan.json``."""
        return {
            "key": self.key,
            "train_seconds_per_example": {str(k): v for k, v in self.train.items()},
            "eval_seconds_per_example": {str(k): v for k, v in self.eval.items()},
            "load_seconds": self.load_seconds,
            "setup_seconds": self.setup_seconds,
            "train_batch": self.train_batch,
            "eval_batch": self.eval_batch,
            "measured_seconds": self.measured_seconds,
            "peak_mb": peaks_to_json(self.peak_mb),
            "device_mb": self.device_mb,
            "static_mb": self.static_mb,
        }


def peaks_from_json(stored: Mapping[str, float | None] | None) -> dict[int, float]:
    """Peak MiB by length as :func:`peaks_to_json` wrote them."""
    return {int(k): math.inf if v is None else float(v) for k, v in (stored or {}).items()}


def peaks_to_json(peaks: Mapping[int, float]) -> dict[str, float | None]:
    """Peak MiB by length as JSON, which has no infinity: a length out of memory is null."""
    return {str(k): None if math.isinf(v) else v for k, v in peaks.items()}


def _interpolate(points: dict[int, float], length: float) -> float:
    """A power law between the two measured lengths around ``length`` (straight in log-log:
    attention grows faster than linearly, and a straight line between 128 and 256 would
    overstate 192); the shortest measured cost below them (a batch has a fixed cost), the
    longest two's law above."""
    xs = sorted(points)
    if length <= xs[0]:
        return points[xs[0]]
    if len(xs) == 1:
        return points[xs[0]] * length / xs[0]
    i = min(max(bisect_left(xs, length), 1), len(xs) - 1)
    x0, x1 = xs[i - 1], xs[i]
    y0, y1 = points[x0], points[x1]
    if y0 <= 0 or y1 <= 0:
        return y0 + (y1 - y0) * (length - x0) / (x1 - x0)
    slope = math.log(y1 / y0) / math.log(x1 / x0)
    return y0 * (length / x0) ** slope


def monotone(points: dict[int, float]) -> dict[int, float]:
    """Per-example costs by length, never cheaper for a longer text (a measurement a few
    milliseconds long can come out so, and a plan must not prefer the longer length for it)."""
    out, highest = {}, 0.0
    for length in sorted(points):
        highest = max(highest, points[length])
        out[length] = highest
    return out


def static_mb(parameters: int) -> float:
    """MiB that do not grow with the batch: fp32 weights, their gradients and AdamW's two
    moments (:data:`OPTIMIZER_COPIES` copies of the weights in all)."""
    return OPTIMIZER_COPIES * parameters * 4 / 2**20


def peak_at(
    peak_mb: Mapping[int, float], static: float, length: int, batch: int, measured: int
) -> float:
    """The peak MiB of a training step at ``length`` tokens and ``batch`` rows, from those
    measured at ``measured`` rows: what is not static grows with the rows; between measured
    lengths, the next longer one's (never less)."""
    longer = [n for n in sorted(peak_mb) if n >= length]
    peak = peak_mb[longer[0]] if longer else max(peak_mb.values())
    if math.isinf(peak):
        return peak
    return static + max(0.0, peak - static) * batch / measured


def fits(
    peak_mb: Mapping[int, float],
    device_mb: float | None,
    static: float,
    length: int,
    *,
    batch: int,
    measured: int,
) -> bool:
    """Whether ``length`` tokens at ``batch`` rows leave the headroom free on the device
    (always, where nothing was measured: a CPU, or rates measured before this was recorded)."""
    if not peak_mb or not device_mb:
        return True
    return peak_at(peak_mb, static, length, batch, measured) <= device_mb * (1 - MEMORY_HEADROOM)
