"""Plan a budget: fit search, final retrain, test, baselines (and the reference retrain) into it.

A pure function of the data's profile, the machine's measured rates, the config and the budget
(:func:`make_plan`), so the same inputs give the same plan. It fills only the keys the config
leaves open, in this order of preference:

1. **Length**: the shortest candidate that keeps 99% of training examples whole (short texts
   need no cut), or the longest the final stage can afford if that is less; a cut text keeps
   its head and its tail (``head+tail``: on IMDb's reviews it beat the head alone at every
   length the frontier benchmark measured).
2. **Epochs**: as many as the final stage can afford on all of train (up to
   :data:`MAX_EPOCHS`), searched from 1; one epoch fixed when only one fits.
3. **Search**: what is left, as trials on a stratified subset of train scored on (a subset of)
   validation: the subset grows up to all of train at :data:`TARGET_TRIALS` trials, then the
   trials grow to fill what is left (a machine many times faster than 2 cores spends its
   budget on trials once every other key is at its most).

Each step first asks for a search worth having (:data:`MIN_TRIALS` trials on
:data:`MIN_SEARCH_EXAMPLES` examples); on a tight budget, anything from one trial up.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hpo.config.budget import format_minutes
from hpo.plan.constants import (
    EVAL_EXAMPLES,
    FILL,
    KEEP_WHOLE,
    LENGTHS,
    MARGIN,
    MAX_EPOCHS,
    MAX_TRIALS,
    MIN_SEARCH_EXAMPLES,
    MIN_TRIALS,
    PREPARE_FACTOR,
    PRUNER_STARTUP,
    REPORT_SECONDS,
    SMALLEST_SEARCH,
    TARGET_TRIALS,
)
from hpo.plan.costs import Costs, baseline_seconds, costs_at, search_seconds, trial_seconds
from hpo.plan.decision import (
    BudgetTooSmall,
    Choice,
    Plan,
    StagePlan,
    data_notes,
    unused_budget_note,
)

if TYPE_CHECKING:
    from hpo.config.schema import HpoConfig
    from hpo.config.space import ParamSpec
    from hpo.plan.measure import MachineRates
    from hpo.plan.profile import DataProfile


@dataclass(frozen=True)
class _Search:
    examples: int
    trials: int
    eval_examples: int
    seconds: float


def make_plan(
    config: HpoConfig,
    profile: DataProfile,
    rates: MachineRates,
    budget_seconds: float,
    *,
    model_max_length: int,
    with_reference: bool,
    spent_seconds: float = 0.0,
) -> Plan:
    """The plan for ``config`` on this data and machine within ``budget_seconds``.

    ``spent_seconds``: already gone (profiling, measuring) when the plan is made.
    Raises :class:`BudgetTooSmall` naming the budget the smallest plan needs.
    """
    explicit = config.explicit
    data, study = config.data, config.study
    grouped = config.training.get("train_sampling_strategy") == "group_by_length"
    # What the user fixed; None where the planner decides.
    fixed_length = data.max_length if "data.max_length" in explicit else None
    epochs_fixed = _fixed_epochs(config.search_space, config.training, config.explicit)
    fixed_train = data.max_train_samples if "data.max_train_samples" in explicit else None
    fixed_eval = data.max_eval_samples if "data.max_eval_samples" in explicit else None
    fixed_trials = study.n_trials if "study.n_trials" in explicit else None
    fixed_evals = study.evals_per_epoch if "study.evals_per_epoch" in explicit else None

    longest = min(model_max_length, LENGTHS[-1])
    whole_length = next(
        (n for n in LENGTHS if n <= longest and profile.share_cut(n) <= 1 - KEEP_WHOLE), longest
    )
    lengths = [fixed_length] if fixed_length else [n for n in LENGTHS if n <= whole_length]
    prepare = (
        profile.tokenize_seconds_per_example
        * PREPARE_FACTOR
        * (profile.n_train + profile.n_validation + profile.n_final_train + profile.n_test)
    )
    baselines = baseline_seconds(profile)
    fixed = spent_seconds + prepare + baselines + REPORT_SECONDS
    usable = budget_seconds * (1 - MARGIN) - fixed
    retrains = 2 if with_reference else 1
    # Validation examples scored at each evaluation: the user's, else up to EVAL_EXAMPLES (more
    # for many classes).
    eval_examples = fixed_eval or min(
        profile.n_validation, max(EVAL_EXAMPLES, 20 * profile.n_classes)
    )

    final_train, final_scored = profile.final_examples(holdout=study.ship == "best")

    def final_seconds(c: Costs, epochs: int) -> float:
        one = c.load + final_train * epochs * c.train + final_scored * c.eval
        return one * retrains

    def search_for(c: Costs, seconds: float, epochs: tuple[int, int], evals: int, *, floor: bool):
        """The largest search that fits ``seconds`` (None: not even the floor)."""
        n_eval = eval_examples
        smallest = min(profile.n_train, max(SMALLEST_SEARCH, 8 * profile.n_classes))
        least = min(profile.n_train, max(MIN_SEARCH_EXAMPLES, 20 * profile.n_classes))
        least_trials = MIN_TRIALS if floor else 1
        if fixed_train:
            smallest = least = min(fixed_train, profile.n_train)
        if fixed_trials:
            least_trials = fixed_trials if floor else 1

        def cost(examples: int, trials: int) -> float:
            return search_seconds(c, examples, trials, epochs, n_eval, evals)

        if cost(least if floor else smallest, least_trials) > seconds:
            return None
        trials = fixed_trials or TARGET_TRIALS
        if fixed_train:
            examples = least
        else:
            # Every size from the lowest this pass allows up: below the floor, the sizes between
            # it and the smallest search too.
            lowest = least if floor else smallest
            examples = _largest(lambda s: cost(s, trials) <= seconds, lowest, profile.n_train)
            if examples is None:  # fewer trials, at the lowest size
                examples = lowest
        if not fixed_trials:
            trials = _largest(lambda t: cost(examples, t) <= seconds, least_trials, MAX_TRIALS)
            trials = trials or least_trials
            if examples < profile.n_train:
                trials = min(trials, TARGET_TRIALS)
        if examples < profile.n_train and not fixed_train:
            examples = max(least if floor else smallest, examples // 100 * 100)
        return _Search(examples, trials, n_eval, cost(examples, trials))

    chosen = None
    for floor in (True, False):
        for length in sorted(lengths, reverse=True):
            c = costs_at(profile, rates, length, grouped=grouped)
            # On a tight budget (no floor) the fewest epochs: the search needs the time more.
            epoch_options = (
                [epochs_fixed[1]] if epochs_fixed else range(MAX_EPOCHS if floor else 1, 0, -1)
            )
            for top in epoch_options:
                low = epochs_fixed[0] if epochs_fixed else 1
                evals = fixed_evals or (2 if top == 1 else 1)
                search = search_for(
                    c, usable - final_seconds(c, top), (low, top), evals, floor=floor
                )
                if search is not None:
                    chosen = (length, (low, top), evals, c, search)
                    break
            if chosen:
                break
        if chosen:
            break
    if chosen is None:
        smallest_length = min(lengths)
        c = costs_at(profile, rates, smallest_length, grouped=grouped)
        top = epochs_fixed[1] if epochs_fixed else 1
        # The smallest search there is: one trial, on the user's subset when they fixed one.
        examples = fixed_train or max(SMALLEST_SEARCH, 8 * profile.n_classes)
        evals = fixed_evals or (2 if top == 1 else 1)
        one_trial = trial_seconds(c, min(profile.n_train, examples), top, eval_examples, evals)
        need = (fixed + final_seconds(c, top) + one_trial) / (1 - MARGIN)
        raise BudgetTooSmall(
            f"budget {format_minutes(budget_seconds)} is too small for one trial and the final "
            f"stage on this data and machine (at {smallest_length} tokens); the plan needs at "
            f"least {format_minutes(math.ceil(need))}. Give a larger --budget (study.budget)."
        )
    length, epochs, evals, c, search = chosen
    return _assemble(
        config,
        profile,
        budget_seconds,
        length=length,
        whole_length=whole_length,
        epochs=epochs,
        evals=evals,
        costs=c,
        search=search,
        stage_seconds={
            "prepare": spent_seconds + prepare,
            "final": final_seconds(c, epochs[1]) / retrains,
            "baselines": baselines,
            "reference": final_seconds(c, epochs[1]) / retrains if with_reference else 0.0,
            "report": REPORT_SECONDS,
        },
    )


def _largest(ok: Any, low: int, high: int) -> int | None:
    """The largest integer in [low, high] for which ``ok`` holds (``ok`` falls off once)."""
    if high < low or not ok(low):
        return None
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if ok(mid) else (low, mid - 1)
    return low


def _fixed_epochs(
    search_space: Mapping[str, ParamSpec], training: Mapping[str, Any], explicit: Collection[str]
) -> tuple[int, int] | None:
    """The epoch range the user set: a searched ``num_train_epochs`` or a fixed one."""
    spec = search_space.get("num_train_epochs")
    if spec is not None and "search_space.num_train_epochs" in explicit:
        if spec.type == "categorical":
            return int(min(spec.choices or [1])), math.ceil(max(spec.choices or [1]))
        return int(spec.low or 1), math.ceil(spec.high or 1)
    if "training.num_train_epochs" in explicit:
        epochs = math.ceil(float(training["num_train_epochs"]))
        return epochs, epochs
    return None


def _assemble(
    config: HpoConfig,
    profile: DataProfile,
    budget_seconds: float,
    *,
    length: int,
    whole_length: int,
    epochs: tuple[int, int],
    evals: int,
    costs: Costs,
    search: _Search,
    stage_seconds: Mapping[str, float],
) -> Plan:
    explicit = config.explicit
    cut = profile.share_cut(length)
    choices: list[Choice] = []

    def choose(key: str, value: Any, why: str, *, also: Sequence[str] = ()) -> None:
        mine = key in explicit or any(k in explicit for k in also)
        current = config.value_of(key)
        choices.append(Choice(key, current if mine else value, "you" if mine else "planner", why))

    p95, p99 = profile.percentile(95), profile.percentile(99)
    if length >= whole_length:
        why_length = f"keeps {100 * (1 - cut):.1f}% of training examples whole (p99 {p99} tokens)"
    else:
        why_length = (
            f"the longest the final stage can afford; cuts {100 * cut:.0f}% of training "
            f"examples (p95 {p95} tokens)"
        )
    choose("data.max_length", length, why_length)
    truncation = "head+tail" if cut > 1 - KEEP_WHOLE else "head"
    if profile.pairs:
        truncation = "head"
    choose(
        "data.truncation",
        truncation,
        "cut texts keep their start and their end" if truncation == "head+tail" else "no cut",
    )
    low, top = epochs
    holdout = config.study.ship == "best"
    final_train, final_scored = profile.final_examples(holdout=holdout)
    if top > 1 and "training.num_train_epochs" not in explicit:
        choose(
            "search_space.num_train_epochs",
            {"type": "int", "low": low, "high": top},
            f"the final stage affords {top} epochs on {final_train:,} examples",
            also=("training.num_train_epochs",),
        )
    else:
        choose(
            "training.num_train_epochs",
            top,
            f"{top} epoch(s) on {final_train:,} examples is what the final stage affords",
            also=("search_space.num_train_epochs",),
        )
    sub = search.examples if search.examples < profile.n_train else None
    choose(
        "data.max_train_samples",
        sub,
        f"{search.examples:,} of {profile.n_train:,} search examples"
        + (" (all)" if sub is None else ", stratified"),
    )
    val = search.eval_examples if search.eval_examples < profile.n_validation else None
    choose(
        "data.max_eval_samples",
        val,
        f"{search.eval_examples:,} of {profile.n_validation:,} validation examples scored",
    )
    choose("study.n_trials", search.trials, "as many as the search's share holds")
    choose(
        "study.evals_per_epoch",
        evals,
        "two points an epoch for the pruner" if evals > 1 else "one point an epoch",
    )
    choose(
        "study.pruner",
        {"type": "MedianPruner", "n_startup_trials": PRUNER_STARTUP},
        "prunes on samples seen after the first trials",
    )
    sampler = dict(config.study.sampler)
    if sampler.get("type") == "TPESampler":
        sampler["n_startup_trials"] = max(2, min(10, search.trials // 3))
    choose("study.sampler", sampler, "TPE after a third of the trials at random")
    ref_epochs = config.reference.get("num_train_epochs")
    if (
        top > 1
        and isinstance(ref_epochs, (int, float))
        and not low <= ref_epochs <= top
        and config.study.enqueue_reference
    ):
        choose(
            "reference.num_train_epochs",
            min(max(int(ref_epochs), low), top),
            "the reference trial inside the epochs searched",
            also=("reference",),
        )

    c = costs
    trial = trial_seconds(c, search.examples, low, search.eval_examples, evals)
    stages = [
        StagePlan("prepare", "profile, measure, tokenize", stage_seconds["prepare"]),
        StagePlan(
            "search",
            f"{search.trials} trials x {search.examples:,} examples, epochs {low}-{top}",
            search.seconds,
        ),
        StagePlan(
            "final",
            f"train {final_train:,} x up to {top} epoch(s), score {final_scored:,}",
            stage_seconds["final"],
        ),
        StagePlan(
            "baselines",
            "TF-IDF tuned on validation" + (", the model chosen" if holdout else ""),
            stage_seconds["baselines"],
        ),
    ]
    if stage_seconds["reference"]:
        stages.append(
            StagePlan("reference", "reference setup, same budget", stage_seconds["reference"])
        )
    stages.append(StagePlan("report", "report and plots", stage_seconds["report"]))
    # Seconds from the start: the search ends when what follows it just fits before the budget
    # (less its margin), however long the search was planned to take.
    search_ends = budget_seconds * (1 - MARGIN) - sum(
        s.seconds for s in stages if s.name not in ("prepare", "search")
    )
    notes = data_notes(profile, search.trials)
    planned = sum(stage.seconds for stage in stages)
    if planned < FILL * budget_seconds:
        notes.append(
            unused_budget_note(choices, planned, budget_seconds, uncut=length >= whole_length)
        )
    if planned > budget_seconds:
        notes.append(
            f"the keys you set need {format_minutes(planned)} against the budget of "
            f"{format_minutes(budget_seconds)}: the deadline will end the search early"
        )
    return Plan(
        budget_seconds=budget_seconds,
        choices=tuple(choices),
        stages=tuple(stages),
        search_ends_at=search_ends,
        shortest_trial_seconds=trial,
        notes=tuple(notes),
        facts={
            "cost_model": {
                "length": length,
                "train_seconds_per_example": c.train,
                "eval_seconds_per_example": c.eval,
                "load_seconds": c.load,
            },
            # The final stage trains without validation, and scores it too (study.ship: best).
            "final_holdout": holdout,
        },
    )
