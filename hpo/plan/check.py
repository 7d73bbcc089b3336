"""Check the machine's cached rates against a short run now, at the planned length, on
examples as long as the data's.

The rates of :mod:`hpo.plan.measure` are cached per machine, and measured on one shape per
length. Two things make them miss what a run then pays: the machine's speed moves (the same
2-core machine measured a 128-token step 30% slower in one process than in the next, minutes
apart), and real batches are not all of one length (the cost model prices each by its longest
example). So before a budgeted run starts, :func:`check_rates` trains a few steps on synthetic
token ids with the data's own length mix, cut at the planned length and batched as training
batches them, scores two batches the same way, and compares the seconds with what the cost
model predicts for exactly those batches. The ratios scale the rates for this plan
(:func:`rates_seen_now`); where the plan then picks another length, that length is checked
too. Nothing is cached, since the point is to see the machine as it is now.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hpo.plan.constants import CHECK_SECONDS, MAX_STEPS, MIN_STEPS, TOLERANCE
from hpo.plan.costs import grouped_by_length
from hpo.plan.measure import (
    WARMUP_STEPS,
    eval_batch_size,
    synthetic_rows,
    time_steps,
    train_batch_size,
)
from hpo.plan.rates import monotone

if TYPE_CHECKING:
    from hpo.config.schema import TrainerSetup
    from hpo.plan.profile import DataProfile
    from hpo.plan.rates import MachineRates

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RateCheck:
    """What the check measured against what the rates predicted."""

    length: int
    #: Measured seconds over predicted seconds, for the timed training steps and the scoring.
    train_ratio: float
    eval_ratio: float
    steps: int
    seconds: float
    #: The training batch it stepped at (0: not recorded, a plan made before it was).
    batch: int = 0

    @property
    def applies(self) -> bool:
        """Whether the ratios are far enough from 1 to rescale the rates."""
        return max(abs(self.train_ratio - 1), abs(self.eval_ratio - 1)) > TOLERANCE

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for ``plan.json``."""
        return {
            "length": self.length,
            "train_ratio": round(self.train_ratio, 3),
            "eval_ratio": round(self.eval_ratio, 3),
            "steps": self.steps,
            "seconds": round(self.seconds, 1),
            "applied": self.applies,
            "batch": self.batch,
        }


def rates_seen_now(rates: MachineRates, checks: Sequence[RateCheck]) -> MachineRates:
    """``rates`` scaled by what the checks saw, once any of them is outside the tolerance: at a
    checked length by its ratios, between two by a straight line between theirs, beyond the
    outermost by its own. While every check is within it, the cached rates stand."""
    if not any(c.applies for c in checks):
        return rates
    ordered = sorted(checks, key=lambda c: c.length)
    xs = [c.length for c in ordered]
    train = [c.train_ratio for c in ordered]
    scoring = [c.eval_ratio for c in ordered]
    return replace(
        rates,
        train=monotone({n: v * float(np.interp(n, xs, train)) for n, v in rates.train.items()}),
        eval=monotone({n: v * float(np.interp(n, xs, scoring)) for n, v in rates.eval.items()}),
    )


def check_steps(rates: MachineRates, length: int, *, batch: int | None = None) -> int:
    """Timed steps of the check at ``length`` (and ``batch``, default the rates' own): about
    :data:`CHECK_SECONDS` of them."""
    step = (batch or rates.train_batch) * rates.train_cost(length)
    return int(min(MAX_STEPS, max(MIN_STEPS, round(CHECK_SECONDS / max(step, 1e-6)))))


def check_seconds(rates: MachineRates, length: int, *, batch: int | None = None) -> float:
    """What the check is planned to cost (from the rates, so that a plan does not depend on
    how long the check happened to take): a model load, the steps, two scoring batches."""
    batch = batch or rates.train_batch
    steps = WARMUP_STEPS + check_steps(rates, length, batch=batch)
    train = steps * batch * rates.train_cost(length)
    scoring = 3 * rates.eval_batch * rates.eval_cost(length)
    return rates.load_seconds + rates.setup_seconds + train + scoring


def batch_lengths(
    profile: DataProfile, length: int, batch: int, n_batches: int, *, grouped: bool, seed: int
) -> list[list[int]]:
    """``n_batches`` batches of token lengths drawn from the data's, cut at ``length``: sorted
    before batching when training groups by length, at random otherwise; the batches in a
    random order."""
    rng = np.random.default_rng(seed)
    source = np.asarray(profile.train_lengths or (length,), dtype=int)
    drawn = np.minimum(rng.choice(source, size=batch * n_batches), length)
    if grouped:
        drawn = np.sort(drawn)
    batches = [drawn[i : i + batch].tolist() for i in range(0, len(drawn), batch)]
    # In a shuffled order, as training takes them: a new shape at most steps costs time too.
    return [batches[i] for i in rng.permutation(len(batches))]


def check_rates(
    setup: TrainerSetup,
    profile: DataProfile,
    rates: MachineRates,
    length: int,
    *,
    batch: int | None = None,
) -> RateCheck:
    """Train and score a little at ``length`` now; measured against predicted seconds.

    ``batch``: the training batch to check at (default: the one the rates were measured at).
    A batch other than the rates' measures what they miss at it: per example, a larger batch
    pays the per-step overhead fewer times, which matters most at short lengths.
    """
    from datasets import concatenate_datasets

    from hpo.train.callbacks import library_bars_off
    from hpo.train.inference import predict_logits
    from hpo.train.model import load_tokenizer

    with library_bars_off():
        began = time.perf_counter()
        tokenizer = load_tokenizer(setup.model)
        labels = profile.labels
        if batch is None:
            batch = train_batch_size(setup.search_space, setup.training)
        eval_batch = eval_batch_size(setup.training)
        grouped = grouped_by_length(setup.training)
        timed = check_steps(rates, length, batch=batch)
        train_batches = batch_lengths(
            profile, length, batch, WARMUP_STEPS + timed, grouped=grouped, seed=length
        )
        eval_batches = batch_lengths(profile, length, eval_batch, 2, grouped=True, seed=length + 1)
        # One synthetic row set per batch, in batch order; "sequential" keeps that order, so each
        # step is exactly one planned batch (the collator pads it to its longest, as in training).
        rows = concatenate_datasets(
            [synthetic_rows(tokenizer, labels, lengths) for lengths in train_batches]
        )
        with tempfile.TemporaryDirectory(prefix="hpo-check-") as tmp:
            trainer, steps, _ = time_steps(
                setup,
                tokenizer,
                rows,
                Path(tmp),
                batch=batch,
                steps=len(train_batches),
                sampling="sequential",
            )
            steps = steps[WARMUP_STEPS:]
            predicted = sum(
                len(b) * rates.train_cost(max(b))
                for b in train_batches[WARMUP_STEPS:][: len(steps)]
            )
            train_ratio = float(steps.sum()) / predicted
            scoring = concatenate_datasets(
                [synthetic_rows(tokenizer, labels, lengths) for lengths in eval_batches]
            )
            predict_logits(trainer, scoring.select(range(min(8, len(scoring)))))  # warm-up
            _, _, seconds = predict_logits(trainer, scoring)
            eval_ratio = seconds / sum(len(b) * rates.eval_cost(max(b)) for b in eval_batches)
            del trainer
        check = RateCheck(
            length, train_ratio, eval_ratio, len(steps), time.perf_counter() - began, batch
        )
        logger.info(
            "Checked the machine's rates at %d tokens and batch %d on the data's length mix: "
            "training %.2fx, scoring %.2fx the cached measurement%s.",
            length,
            batch,
            train_ratio,
            eval_ratio,
            "; planning with the rates seen now" if check.applies else "",
        )
        return check
