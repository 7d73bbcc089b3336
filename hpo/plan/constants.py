"""Every tuned number of the planner, in one place, with where it came from and what
re-measures it.

Most were set on one data set (IMDb's long reviews) and one machine (2 cores of an
AVX512-BF16 AMD EPYC, training in bf16, SQLite storage). What depends on the machine and the
data is measured at run time instead (the machine's training and scoring rates per length,
:mod:`hpo.plan.measure`, checked by :mod:`hpo.plan.check`; the data's token lengths, tokenizing
and TF-IDF speed, :mod:`hpo.plan.profile`); what is left here are the shapes of the plan and the
allowances around those measurements. ``bench/budget.py`` runs whole budgeted jobs and records
planned against actual seconds per stage, which is where a wrong allowance shows.
"""

from __future__ import annotations

# -- lengths, epochs, trials: what the planner chooses among -----------------------------------

#: Lengths (tokens) the planner chooses among.
LENGTHS = (32, 64, 96, 128, 160, 192, 256, 320, 384, 512)
#: The share of training examples a length must keep whole to count as "no cut".
KEEP_WHOLE = 0.99
#: Most epochs a plan searches or trains.
MAX_EPOCHS = 10
#: Fewest trials worth a search, and the number aimed at while the search holds a subset.
MIN_TRIALS, TARGET_TRIALS = 6, 10
#: Most trials, once the search holds all of train: a sanity bound, not a choice. At 30 (the
#: bound until issue 37), plans from rates 10-200x this project's 2-core CPU left 60-95% of a
#: budget unused on short texts (tests/plan/test_planner.py plans them).
MAX_TRIALS = 2000
#: A plan that uses less of its budget than this says which keys hold it back.
FILL = 0.85
#: Fewest search examples worth a search, and the fewest at all (per class, at least 8): the
#: smallest is only for trials you fixed (``study.n_trials``).
MIN_SEARCH_EXAMPLES, SMALLEST_SEARCH = 1000, 200
#: Fewest examples a class a search's subset must hold to tell settings apart. An allowance,
#: not a measurement: issue 34's 77-class search on 20 a class learned only "more epochs"
#: (validation 0.41-0.53) and cost seven points; bench/equal_budget.py measures whether a
#: search at this floor pays against the strong default given the same minutes.
SEARCH_PER_CLASS = 50
#: Smallest lead over the strong default a search's validation figure must be able to tell
#: from noise for the plan to hold a search: the final stage trains the search's best only
#: where its lead is wider than the 95% interval of the difference of the two figures
#: (:func:`hpo.search.trials.default_within_noise`), which the planner costs at accuracy 0.5,
#: the widest. An allowance from bench/equal_budget.py: every search it measured on the 2-core
#: machine led the default by 0.5-1.5 points, inside intervals of about 4 points on 1,000
#: validation examples, so each ended with the default trained and its minutes bought nothing.
SEARCH_LEAD = 0.02
#: Fewest training samples the final stage should see (epochs x examples) before the planner
#: trades epochs for length: about 600 steps at batch 32, what the recipe's 3 epochs of a
#: mid-sized set give. An allowance, re-measured by bench/equal_budget.py.
MIN_FINAL_SAMPLES = 20_000
#: Length at which the final stage reads long texts before it trains whole epochs of all of
#: train: where those epochs fit only at half this length or less, cutting most training texts
#: (more than :data:`MOSTLY_CUT`), the final stage reads a random part of train (at least
#: :data:`MIN_PART_SAMPLES`) at the longest length up to this one instead. Measured at equal
#: training minutes on IMDb's reviews by bench/frontier.py
#: (bench/results/2026-12-06-vm.frontier-equal-time.issue34.json): a part of train at this
#: length beat all of it at a quarter or half of it, and twice this length did no better;
#: with more minutes, all of train at this length beat a third of it at twice the length
#: (bench/equal_budget.py, IMDb at 30 minutes).
READ_LENGTH = 128
#: "Most training texts" above: the share a length must cut for a part to be read instead.
MOSTLY_CUT = 0.5
#: Fewest samples a part of train must hold: the smallest part the frontier measured at a
#: length that reads IMDb's reviews (at 256 tokens) scored above all of train at 32.
MIN_PART_SAMPLES = 2_000
#: Fewest samples a class such a part must hold where it is read at a longer length than the
#: shortest: on IMDb the parts that won held over a thousand a class; on long texts in 20
#: classes (docs/results/equal-budget.md) parts of a few hundred a class lost to all of train
#: at the shortest length for more epochs. For two classes it is MIN_PART_SAMPLES.
MIN_PART_PER_CLASS = 1_000
#: Validation examples scored at each evaluation (at most; all of a smaller split).
EVAL_EXAMPLES = 1000

# -- allowances around what is measured -------------------------------------------------------

#: Share of a CUDA device's memory a planned length leaves free at its largest batch: the
#: allocator's fragmentation and the scoring batch come on top of the training step's peak.
#: An allowance, not a measurement (no GPU has measured it yet); a trial that still runs out
#: of memory is retried at half the batch (:mod:`hpo.search.retry`).
MEMORY_HEADROOM = 0.2
#: Copies of the fp32 weights a training step holds whatever its batch: the weights, their
#: gradients and AdamW's two moments.
OPTIMIZER_COPIES = 4

#: Budget kept free for what no measurement sees coming (run-to-run noise, a slow disk).
#: Re-measured by bench/budget.py: its IMDb runs at 15-90 minutes ended within the budget.
MARGIN = 0.04
#: Seconds for the report and its plots (bench/budget.py's IMDb runs: under 15 s each).
REPORT_SECONDS = 15.0
#: Tokenizing every split is planned at this multiple of the profile's measured per-example
#: time (a cold tokenizer cache and the splits' shuffles). An allowance, not a measurement:
#: IMDb at 15 minutes spent a seventh of what it planned for this stage (issue 34).
PREPARE_FACTOR = 1.5
#: The TF-IDF baseline: a fixed start-up and a multiple of the per-example fit time the profile
#: measures on a sample (fitting on all of train costs more than linearly in the vocabulary).
TFIDF_FIXED_SECONDS, TFIDF_FACTOR = 5.0, 1.5
#: Seconds of storage round trip and bookkeeping per evaluation, beside the scoring it times.
#: An allowance above the measurement: bench/eval_overhead.py bounds it on the 2-core machine
#: with SQLite well below this (bench/results/README.md); the margin is for slower CPUs and a
#: database across a network, not measured. A search evaluates a few times a trial, so the
#: allowance moves a plan by seconds.
EVAL_OVERHEAD_SECONDS = 0.5

# -- pruning --------------------------------------------------------------------------------

#: Trials that run whole before the median pruner acts (study.pruner.n_startup_trials).
PRUNER_STARTUP = 3
#: Share of the later trials planned as pruned at their first evaluation: what the median
#: pruner did on IMDb's 10-trial search (3 of 10). bench/pruners.py re-measures what each
#: pruner prunes on a plan's search.
PRUNED_SHARE = 1 / 3

# -- measuring the machine and checking it --------------------------------------------------

#: Lengths (tokens) the machine is measured at; costs between them are interpolated.
GRID = (16, 32, 64, 128, 192, 256, 512)
#: Untimed warm-up steps at each length: the first steps at a new shape run slower. (More
#: warm-up steps measured no faster on the 2-core machine, and made measuring longer.)
WARMUP_STEPS = 2
#: Training steps timed at each length: more where steps are short, at least
#: ``MIN_TIMED_STEPS`` (the median of them is the step's cost).
MAX_TIMED_STEPS, MIN_TIMED_STEPS = 8, 3
#: Seconds of timed training steps the pre-run check aims at (fewer steps where steps are long).
CHECK_SECONDS = 20.0
#: Fewest and most timed steps of the check.
MIN_STEPS, MAX_STEPS = 6, 40
#: Measured-to-cached ratios this close to 1 leave the rates as they are: the check's own
#: run-to-run spread on the 2-core machine (tests/plan/test_check.py holds the rule).
TOLERANCE = 0.15
#: Lengths checked at most for one plan.
MAX_CHECKS = 3
