"""The planner's cost model: seconds per example at a length, and what trials and stages cost.

Built from the machine's measured rates (:mod:`hpo.plan.measure`) and the data's token lengths
(:mod:`hpo.plan.profile`): a batch costs as much as its longest example, cut at the length,
since batches are padded to their longest; grouped by length when the training settings group
them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from hpo.config.reference import final_evaluations, tfidf_grid
from hpo.plan.constants import (
    EVAL_OVERHEAD_SECONDS,
    PRUNED_SHARE,
    PRUNER_STARTUP,
    TFIDF_FACTOR,
    TFIDF_FIXED_SECONDS,
)

if TYPE_CHECKING:
    from hpo.plan.profile import DataProfile
    from hpo.plan.rates import MachineRates


@dataclass(frozen=True)
class Costs:
    """The cost model at one length: seconds per example and per fixed event."""

    train: float  # per training example (one epoch)
    eval: float  # per scored example
    load: float  # a model load plus a train() call's setup


def per_example(
    lengths: Sequence[int], cap: int, batch: int, cost: Any, *, grouped: bool, seed: int = 0
) -> float:
    """Seconds per example when examples of ``lengths`` are cut at ``cap`` and batched
    ``batch`` at a time, each batch padded to its longest (grouped by length, or at random)."""
    cut = np.minimum(np.asarray(lengths, dtype=float), cap)
    if not len(cut):
        return cost(cap)
    cut = np.sort(cut) if grouped else np.random.default_rng(seed).permutation(cut)
    total = 0.0
    for start in range(0, len(cut), batch):
        chunk = cut[start : start + batch]
        total += len(chunk) * cost(float(chunk.max()))
    return total / len(cut)


def grouped_by_length(training: Mapping[str, Any]) -> bool:
    """Whether training batches are grouped by length (``train_sampling_strategy``), which
    pads each batch less than batches drawn at random."""
    return training.get("train_sampling_strategy") == "group_by_length"


def costs_at(
    profile: DataProfile,
    rates: MachineRates,
    length: int,
    *,
    grouped: bool,
    batch: int | None = None,
) -> Costs:
    """The cost model at ``length`` on the data's length mix, training in batches of ``batch``
    (default: the batch ``rates`` were measured at)."""
    lengths = profile.train_lengths
    return Costs(
        train=per_example(
            lengths, length, batch or rates.train_batch, rates.train_cost, grouped=grouped
        ),
        eval=per_example(lengths, length, rates.eval_batch, rates.eval_cost, grouped=True),
        load=rates.load_seconds + rates.setup_seconds,
    )


def final_seconds(
    c: Costs, trained: int, scored: int, epochs: float, *, n_validation: int, keep_best: bool
) -> float:
    """Seconds of one final-stage training: ``trained`` examples for ``epochs``, ``scored``
    examples scored once after, and, where it keeps its best point, validation
    (``n_validation``) scored at each of its points too."""
    if keep_best:
        scored += final_evaluations(epochs) * n_validation
    return c.load + trained * epochs * c.train + scored * c.eval


def trial_seconds(
    c: Costs, examples: int, epochs: float, eval_examples: int, evals_per_epoch: int
) -> float:
    evals = max(1, round(epochs * evals_per_epoch))
    # One storage round trip and a little bookkeeping per evaluation, beside the scoring.
    return (
        c.load
        + examples * epochs * c.train
        + evals * (eval_examples * c.eval + EVAL_OVERHEAD_SECONDS)
    )


def search_seconds(
    c: Costs,
    examples: int,
    trials: int,
    epochs: tuple[int, int],
    eval_examples: int,
    evals_per_epoch: int,
    workers: int = 1,
) -> float:
    """Expected seconds of ``trials`` trials: the first :data:`PRUNER_STARTUP` whole, and
    :data:`PRUNED_SHARE` of the rest pruned at their first evaluation. With ``workers`` trials
    at once (each as fast as this machine), their seconds shared among them, and the last
    trial to start still running alone for part of a whole trial."""
    mean_epochs = (epochs[0] + epochs[1]) / 2
    whole = trial_seconds(c, examples, mean_epochs, eval_examples, evals_per_epoch)
    first = trial_seconds(c, examples, 1 / evals_per_epoch, eval_examples, evals_per_epoch)
    startup = min(trials, PRUNER_STARTUP)
    rest = trials - startup
    total = startup * whole + rest * ((1 - PRUNED_SHARE) * whole + PRUNED_SHARE * first)
    at_once = max(1, min(workers, trials))
    return total / at_once + whole * (1 - 1 / at_once)


def baseline_seconds(profile: DataProfile, settings: int | None = None) -> float:
    """The TF-IDF baseline, from its measured fits on the profile's sample: every setting of
    its grid (all of it, or its first ``settings``: :func:`~hpo.config.reference.tfidf_grid`)
    fitted on train and scored on validation (a vectorizer per n-gram range, a regression per
    setting, each at its range's cost), the chosen one fitted again on all of train (at the
    costlier range's, not yet chosen), then test scored."""
    pairs = _tfidf_fit(
        profile.tfidf_seconds_per_example, profile.tfidf_vectorize_seconds_per_example
    )
    words = _tfidf_fit(
        profile.tfidf_unigram_seconds_per_example,
        profile.tfidf_unigram_vectorize_seconds_per_example,
    )
    words = words if sum(words) > 0 else pairs  # not timed: costed as word pairs
    grid = tfidf_grid(settings)
    fits = {ngrams: words if ngrams[1] == 1 else pairs for ngrams, _ in grid}
    tuning = sum(
        vectorize * (profile.n_train + profile.n_validation) for vectorize, _ in fits.values()
    )
    tuning += profile.n_train * sum(fits[ngrams][1] for ngrams, _ in grid)
    costly = max(fits.values(), key=sum)
    refit = profile.n_final_train * sum(costly) + profile.n_test * costly[0]
    return TFIDF_FIXED_SECONDS + TFIDF_FACTOR * (tuning + refit)


def _tfidf_fit(total: float, vectorize: float) -> tuple[float, float]:
    """(vectorize, regress) seconds per example of a fit timed at ``total`` seconds, of which
    ``vectorize`` its vectorizer's (half where that was not timed)."""
    vectorize = vectorize or total / 2
    return vectorize, max(0.0, total - vectorize)
