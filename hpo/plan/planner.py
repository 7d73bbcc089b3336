"""Plan a budget: fit the final stage, a search where one can pay, test, baselines (and the
reference retrain) into it.

A pure function of the data's profile, the machine's measured rates, what the config asks
(:class:`~hpo.plan.request.PlanRequest`) and the budget (:func:`make_plan`), so the same inputs
give the same plan. It fills only the keys the config leaves open, the final stage first (issue
34: on a 77-class set a search's share cost seven points against the same minutes spent
training a strong default on all the data):

0. **The TF-IDF baseline's grid**: all of it, unless the final stage at its least does not fit
   beside it; then the most settings that leave it room, in the order of
   :data:`~hpo.config.reference.TFIDF_PRIORITY` (on long texts in many classes a regression can
   take minutes, and a budget was refused for the baseline's sake).
1. **Length and epochs of the final stage**: the longest length that keeps 99% of training
   examples whole (short texts need no cut), or the longest at which the strong default's
   :data:`~hpo.config.reference.DEFAULT_EPOCHS` epochs of all of train fit, down to the fewest
   that still see :data:`MIN_FINAL_SAMPLES` samples (one epoch of a large split); a cut text
   keeps its head and its tail (``head+tail``: on IMDb's reviews it beat the head alone at
   every length the frontier benchmark measured). Where whole epochs fit only at a length that
   cuts most texts to half of :data:`READ_LENGTH` or less (or at no length), the final stage
   reads a random part of train (at least :data:`MIN_PART_SAMPLES`, and
   :data:`MIN_PART_PER_CLASS` a class at a longer length than the shortest) at up to
   :data:`READ_LENGTH` instead (at equal minutes on IMDb's reviews, reading more of each text
   beat reading all of train cut short: ``bench/frontier.py``).
2. **The search's share is a decision**: what is left beside that final stage holds a search
   only when the search can pay (:data:`MIN_TRIALS` trials on a subset of at least
   :data:`SEARCH_PER_CLASS` examples a class, scored on enough validation examples that a lead
   of :data:`SEARCH_LEAD` over the strong default is told from noise, the rule by which the
   final stage trains the search's best at all); it then grows, the subset up to all of train
   at :data:`TARGET_TRIALS` trials, then the trials, to fill what is left. Otherwise there is no
   search (``study.n_trials: 0``): the final stage trains the strong default, for as many epochs
   as the budget holds (up to :data:`MAX_EPOCHS`), and keeps the best on validation.

The plan says which it chose and why (the ``study.n_trials`` row, ``plan.json``'s ``search``).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from hpo.config.budget import format_minutes
from hpo.config.reference import DEFAULT_EPOCHS, FINAL_EPOCH_STEPS, strong_default, tfidf_grid
from hpo.plan.assemble import Search, assemble
from hpo.plan.constants import (
    EVAL_EXAMPLES,
    KEEP_WHOLE,
    LENGTHS,
    MARGIN,
    MIN_FINAL_SAMPLES,
    MIN_PART_PER_CLASS,
    MIN_PART_SAMPLES,
    MIN_SEARCH_EXAMPLES,
    MIN_TRIALS,
    MOSTLY_CUT,
    PREPARE_FACTOR,
    READ_LENGTH,
    REPORT_SECONDS,
    SEARCH_LEAD,
    SEARCH_PER_CLASS,
    SMALLEST_SEARCH,
)
from hpo.plan.costs import Costs, baseline_seconds, costs_at, grouped_by_length, search_seconds
from hpo.plan.costs import final_seconds as one_final
from hpo.plan.decision import BudgetTooSmall, Plan
from hpo.plan.fill import fill_share
from hpo.plan.sizing import largest, sized, smallest_search
from hpo.search.trials import examples_to_resolve, half_width
from hpo.train.settings import setting

if TYPE_CHECKING:
    from hpo.config.space import ParamSpec
    from hpo.plan.profile import DataProfile
    from hpo.plan.rates import MachineRates
    from hpo.plan.request import PlanRequest


def make_plan(
    request: PlanRequest,
    profile: DataProfile,
    rates: MachineRates,
    budget_seconds: float,
    *,
    model_max_length: int,
    with_reference: bool,
    spent_seconds: float = 0.0,
    final_rates: MachineRates | None = None,
) -> Plan:
    """The plan for the config of ``request`` on this data and machine within
    ``budget_seconds``.

    ``spent_seconds``: already gone (profiling, measuring) when the plan is made.
    ``final_rates``: the rates of a final stage with no search before it (the strong default,
    at its own batch), where they were measured; else ``rates``.
    Raises :class:`BudgetTooSmall` naming the budget the smallest plan needs.
    """
    space, training = request.search_space, request.training
    grouped = grouped_by_length(training)
    # What the user fixed; None where the planner decides.
    fixed_length = request.fixed("data.max_length")
    epochs_fixed = _fixed_epochs(space, training, request.explicit)
    fixed_train = request.fixed("data.max_train_samples")
    fixed_eval = request.fixed("data.max_eval_samples")
    fixed_trials = request.fixed("study.n_trials")
    fixed_evals = request.fixed("study.evals_per_epoch")

    longest = min(model_max_length, LENGTHS[-1])
    whole_length = next(
        (n for n in LENGTHS if n <= longest and profile.share_cut(n) <= 1 - KEEP_WHOLE), longest
    )
    lengths = [fixed_length] if fixed_length else [n for n in LENGTHS if n <= whole_length]
    if not fixed_length:  # on a GPU, only lengths whose largest batch fits (the shortest else)
        default = {**training, **strong_default(space, training)}
        widest = max(
            int(setting("per_device_train_batch_size", space, training).highest()),
            int(setting("per_device_train_batch_size", {}, default).value),
        )
        lengths = [n for n in lengths if rates.fits(n, widest)] or lengths[:1]
    prepare = (
        profile.tokenize_seconds_per_example
        * PREPARE_FACTOR
        * (profile.n_train + profile.n_validation + profile.n_final_train + profile.n_test)
    )
    retrains = 2 if with_reference else 1
    # Validation examples scored at each evaluation: the user's, else up to EVAL_EXAMPLES (more
    # for many classes).
    eval_examples = fixed_eval or min(
        profile.n_validation, max(EVAL_EXAMPLES, 20 * profile.n_classes)
    )
    holdout = request.value("study.ship") == "best"
    final_train, final_scored = profile.final_examples(holdout=holdout)
    # Trained without validation, the final stage scores it as it trains and keeps the best
    # point; so its epochs are the budget's to choose (unless you fixed them).
    keep_best = holdout and epochs_fixed is None

    def final_seconds(c: Costs, epochs: float) -> float:
        one = one_final(
            c,
            final_train,
            final_scored,
            epochs,
            n_validation=profile.n_validation,
            keep_best=keep_best,
        )
        return one * retrains

    def twentieths(least: int) -> int:
        """The fewest twentieths of an epoch that hold ``least`` samples (at least one)."""
        return max(1, math.ceil(FINAL_EPOCH_STEPS * least / max(1, final_train)))

    # The least the final stage plans: your epochs; else a part of train (a twentieth of an
    # epoch at your length, MIN_PART_SAMPLES at the planner's); else one epoch; at the shortest
    # length.
    target = epochs_fixed[1] if epochs_fixed else DEFAULT_EPOCHS
    reads = min(MIN_PART_SAMPLES, final_train)
    if epochs_fixed:
        fewest = float(target)
    elif keep_best:
        fewest = twentieths(1 if fixed_length else reads) / FINAL_EPOCH_STEPS
    else:
        fewest = 1.0
    shortest = min(lengths)
    least_final = final_seconds(costs_at(profile, rates, shortest, grouped=grouped), fewest)
    # 0. The TF-IDF baseline's grid: all of it, or, where the final stage at its least does not
    # fit beside it, the most settings that leave room (on long texts in many classes its
    # regressions can cost more than the transformer's least).
    grid = len(tfidf_grid())
    room = budget_seconds * (1 - MARGIN) - spent_seconds - prepare - REPORT_SECONDS - least_final
    settings = next((k for k in range(grid, 0, -1) if baseline_seconds(profile, k) <= room), 1)
    baselines = baseline_seconds(profile, settings)
    fixed = spent_seconds + prepare + baselines + REPORT_SECONDS
    usable = budget_seconds * (1 - MARGIN) - fixed

    # 1. The final stage: the longest length at which the recipe's epochs fit, down to the
    # fewest that see MIN_FINAL_SAMPLES samples; failing that, any epochs at all.
    enough = min(target, math.ceil(MIN_FINAL_SAMPLES / max(1, final_train)))
    chosen: tuple[int, Costs, float] | None = None
    for least in (target,) if epochs_fixed else (enough, 1):
        for length in sorted(lengths, reverse=True):
            c = costs_at(profile, rates, length, grouped=grouped)
            epochs = next(
                (e for e in range(target, least - 1, -1) if final_seconds(c, e) <= usable), None
            )
            if epochs is not None:
                chosen = (length, c, epochs)
                break
        if chosen:
            break

    def part_of_train(n: int, least: int = 1) -> tuple[int, Costs, float] | None:
        """``n`` tokens and the most twentieths of an epoch that fit (a random part of train,
        the best point kept), of at least ``least`` samples; None where they do not fit."""
        c = costs_at(profile, rates, n, grouped=grouped)
        part = largest(
            lambda k: final_seconds(c, k / FINAL_EPOCH_STEPS) <= usable,
            twentieths(least),
            FINAL_EPOCH_STEPS,
        )
        return None if part is None else (n, c, part / FINAL_EPOCH_STEPS)

    # Whole epochs that fit only at half of READ_LENGTH or less, a length that cuts most texts:
    # a part of train read at the longest length up to READ_LENGTH that holds MIN_PART_SAMPLES,
    # and a longer length than the shortest only for MIN_PART_PER_CLASS a class (a part of a
    # few hundred texts a class lost to short texts for more epochs). Where they fit at no
    # length, the same (texts mostly short: at the shortest length).
    short = chosen[0] if chosen else 0
    if chosen is None:
        reach = READ_LENGTH if profile.share_cut(shortest) > MOSTLY_CUT else shortest
    elif short <= READ_LENGTH // 2 and profile.share_cut(short) > MOSTLY_CUT:
        reach = READ_LENGTH
    else:
        reach = 0
    read_past: int | None = None  # the length whole epochs fit at (0: none), a part read instead
    if keep_best and not fixed_length:
        longer = sorted((n for n in lengths if short < n <= reach), reverse=True)
        per_class = min(final_train, max(reads, MIN_PART_PER_CLASS * profile.n_classes))
        floors = {n: reads if n == shortest else per_class for n in longer}
        part = next((p for n in longer if (p := part_of_train(n, floors[n]))), None)
        if part is not None:
            chosen, read_past = part, short
    if chosen is None and fixed_length and keep_best:
        # Your length, of which not one epoch of all of train fits: the most twentieths of an
        # epoch that do.
        chosen = part_of_train(fixed_length)
    if chosen is None:
        need = (fixed + least_final) / (1 - MARGIN)
        # What the minimum is made of: on long texts in many classes the TF-IDF baseline, even
        # at its one setting, can be most of it.
        parts = {
            "preparing": spent_seconds + prepare,
            f"the TF-IDF baseline at {settings} setting(s)": baselines,
            "the final stage at its least": least_final,
        }
        held = ", ".join(f"{name} {format_minutes(sec)}" for name, sec in parts.items())
        raise BudgetTooSmall(
            f"budget {format_minutes(budget_seconds)} is too small for the final stage on this "
            f"data and machine (at {shortest} tokens); the plan needs at least "
            f"{format_minutes(math.ceil(need))} ({held}). Give a larger --budget "
            "(study.budget)."
        )
    length, c, epochs = chosen
    rest = usable - final_seconds(c, epochs)

    # 2. A search, where it can pay: trials train the recipe's epochs on their subset.
    trial_epochs = epochs_fixed or (target, target)
    evals = fixed_evals or (2 if trial_epochs[1] == 1 else 1)

    workers = int(request.value("study.workers"))

    # A search's trials are scored on enough validation examples for the final choice to trust
    # a lead of SEARCH_LEAD (all of a smaller split; yours where you set them).
    needed = examples_to_resolve(SEARCH_LEAD)
    search_eval = fixed_eval or min(profile.n_validation, max(eval_examples, needed))

    def cost(examples: int, trials: int) -> float:
        return search_seconds(c, examples, trials, trial_epochs, search_eval, evals, workers)

    least = min(profile.n_train, max(MIN_SEARCH_EXAMPLES, SEARCH_PER_CLASS * profile.n_classes))
    if fixed_train:
        least = min(fixed_train, profile.n_train)
    noise = half_width(0.5, search_eval, difference=True)
    final_what = f"the final stage's {epochs:g} epoch(s) of {final_train:,} at {length} tokens"
    at_once = f", {workers} at once" if workers > 1 else ""
    search: Search | None = None
    # Whether the machine's speed can change this decision (it sizes a search, or rules one
    # out for time); not where the user or the validation split decides.
    by_rates = fixed_trials != 0 and (fixed_trials is not None or noise <= SEARCH_LEAD)
    if fixed_trials == 0:
        why = "no search: study.n_trials 0 (set by you); the strong default is trained"
    elif fixed_trials:
        # Your trials: on the largest subset that fits, from the floor down to the smallest
        # (every size between), else on the smallest, ended early by the deadline.
        smallest = min(profile.n_train, max(SMALLEST_SEARCH, 8 * profile.n_classes))
        smallest = least if fixed_train else smallest
        search = next(
            (
                found
                for low in (least, smallest)
                if (
                    found := sized(
                        cost, rest, low, profile, fixed_train=fixed_train, trials=fixed_trials
                    )
                )
            ),
            None,
        ) or smallest_search(cost, profile, fixed_train, fixed_trials)
        why = "as many as you set"
    elif noise > SEARCH_LEAD:
        why = (
            f"no search: {search_eval:,} validation examples tell a trial from the strong "
            f"default only to ±{100 * noise:.1f} points (at accuracy 0.5, the widest), and a "
            "search's best is trained only where it leads by more (a search needs "
            f"±{100 * SEARCH_LEAD:.0f}: {needed:,} examples); the "
            "strong default is trained"
        )
    elif cost(least, MIN_TRIALS) > rest:
        why = (
            f"no search: {MIN_TRIALS} trials of {least:,} examples "
            f"({least // max(1, profile.n_classes)} a class{at_once}) would take "
            f"{format_minutes(cost(least, MIN_TRIALS))} and {format_minutes(max(0.0, rest))} "
            f"is left beside {final_what}; the strong default is trained"
        )
    else:
        search = sized(
            cost, rest, least, profile, fixed_train=fixed_train, trials=None, workers=workers
        )
        assert search is not None  # the floor fits
        why = (
            f"{search.examples // max(1, profile.n_classes):,} examples a class, a lead over "
            f"the strong default told from noise beyond ±{100 * noise:.1f} points "
            f"({search_eval:,} validation examples): a search can pay in what is left "
            f"beside {final_what}" + (f" ({workers} trials at once)" if workers > 1 else "")
        )
    # The lengths a final stage with no search may still take when it starts (none where the
    # length is yours), each for the recipe's epochs; at this length down to the fewest planned.
    final_lengths: list[int] = []
    least_epochs = max(1, round(FINAL_EPOCH_STEPS * min(enough, epochs))) / FINAL_EPOCH_STEPS
    if search is None and keep_best:
        # No search: the final stage takes the whole share: of the lengths (no shorter) and
        # epochs (a longer length only for the fewest that see enough samples; the best kept
        # on validation) that fill it, the longest length, then the most epochs.
        own = final_rates or rates
        longer = [n for n in lengths if n >= length]
        length, epochs = fill_share(
            lambda n, e: final_seconds(costs_at(profile, own, n, grouped=grouped), e),
            longer,
            float(enough),
            usable,
            floor=least_epochs,
        )
        c = costs_at(profile, own, length, grouped=grouped)
        if not fixed_length:
            final_lengths = [n for n in longer if n >= length]
    return assemble(
        request,
        profile,
        budget_seconds,
        length=length,
        whole_length=whole_length,
        read_past=read_past,
        epochs=epochs,
        trial_epochs=trial_epochs,
        evals=evals,
        costs=c,
        search=search,
        search_why=why,
        search_by_rates=by_rates,
        keep_best=keep_best,
        stage_seconds={
            "prepare": spent_seconds + prepare,
            "final": final_seconds(c, epochs) / retrains,
            "baselines": baselines,
            "reference": final_seconds(c, epochs) / retrains if with_reference else 0.0,
            "report": REPORT_SECONDS,
        },
        eval_examples=search_eval if search is not None else eval_examples,
        final_lengths=final_lengths,
        least_epochs=sorted({float(enough), least_epochs}, reverse=True),
        tfidf_settings=settings,
    )


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
