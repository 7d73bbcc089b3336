"""Equal budget: does `hpo run --budget B` beat a strong default given the same minutes?

For one data set and budget, on the same machine, one after the other, on the same test
examples (issue 34):

- **(a) hpo run**: ``hpo run --data DIR --budget B``, as a user runs it.
- **(b) no search**: the strong default (:data:`hpo.config.reference.STRONG_DEFAULT`, the
  recipe published for encoders of this size, fixed before any run and tuned on nothing),
  ``hpo run --budget B --set study.n_trials=0`` at a length this benchmark fixes by its own rule
  (:func:`default_length`), trained on all of train for as many epochs as B holds at the
  machine's measured rates, with the same profile, baselines and report inside B. Nothing the
  planner decides changes it: no search is set, and the length is the benchmark's.
- **(c) random sampler** (``--random``): (a) with Optuna's ``RandomSampler``, same plan.
- **(l) another length** (``--length N``): (a) with ``data.max_length=N``, the epochs the plan
  fits at that length: did the plan's length pay against the length another rule would take
  (the plan before issue 34's part of train read at 128 tokens, say)?
- **(v) the default varied** (``--vary KEY=V1,V2``): (b) with ``training.KEY=Vi`` and ``KEY``
  out of the search space, one arm a value (``v1``, ``v2``, ...), each compared with (b). With
  (b) they are a grid search at the final stage's fidelity given k times the minutes, the most
  a search over that key could buy here: the arm validation would choose (:func:`chosen`) and
  its test accuracy against (b)'s. Where it does not beat (b), no search of that key in B can.
- **(s) a search forced** (``--search N``): (a) with ``study.n_trials=N``, where the plan chose
  none: the planner sizes the subset and the final stage around N trials. Does a search pay
  here against the plan's choice? ``--arms s --a-runs DIR`` runs it alone and compares it with
  an (a) run finished before (its ``runs/<study>`` folder), so that (a) need not run again.

- **Seeds** (``--seeds 42,43,44``): every arm once at each training seed (``training.seed``),
  the arms in turn at one seed, then at the next. Each run is compared with its base at the
  same seed, and across seeds by the paired differences (:mod:`_seeds`): the spread of one arm
  over its seeds is the yardstick a difference between two arms must clear.

Every arm after the first starts from the first arm's cached measurement of the machine (the
``--machine-cache`` one where it had it), so that the arms plan from the same rates.

Prints and records per arm: minutes used against the budget, the plan's search decision, the
transformer's test accuracy with its 95% interval, the shipped model's (chosen on validation),
and McNemar's p of (a) against each other arm (transformer against transformer, shipped against
shipped).

    python bench/equal_budget.py --data ../shared/data/imdb --budget 30m
    python bench/equal_budget.py --data ../shared/data/clinc150 --budget 15m \\
        --set data.label_column=intent
    python bench/equal_budget.py --data ../shared/data/bbc_news --budget 10m --random
    python bench/equal_budget.py --data /tmp/pairs --budget 10m --arms b,v1,v2,v3 \\
        --vary learning_rate=2e-5,1e-4,2e-4
    python bench/equal_budget.py --data ../shared/data/clinc150 --budget 15m \\
        --set data.label_column=intent --arms b --seeds 42,43,44

Results go to ``bench/results/<date>-<host>.equal-budget.json``. Nothing else may run on the
machine meanwhile: every arm keeps its deadline by the clock.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import _record  # bench/_record.py: commit, machine and results file of every benchmark
from _seeds import across_seeds, arm_of, parse_seeds, run_name, seed_of
from budget import REPO, run_one  # bench/budget.py: one timed `hpo run --budget`

#: (b)'s lengths: the shortest that holds 95% of a sample of training texts whole, at most 256,
#: all-MiniLM-L6-v2's own limit (its model card: longer input is cut at 256 word pieces).
DEFAULT_LENGTHS = (32, 64, 128, 256)
SAMPLE = 2000


def default_length(data: str, sets: list[str]) -> int:
    """(b)'s length, by the rule above, from the data's own training texts."""
    from hpo.api import load_config
    from hpo.data.sources import load_raw
    from hpo.train.model import load_tokenizer

    config = load_config(None, list(sets), data=data, check_training=False)
    raw, _ = load_raw(config.data)
    train = raw["train"].shuffle(seed=0).select(range(min(SAMPLE, len(raw["train"]))))
    tokenizer = load_tokenizer(config.model)
    texts = list(train[config.data.text_column])
    pairs = list(train[config.data.text_pair_column]) if config.data.text_pair_column else None
    encoded = tokenizer(texts, pairs) if pairs is not None else tokenizer(texts)
    lengths = sorted(len(ids) for ids in encoded["input_ids"])
    p95 = lengths[int(0.95 * (len(lengths) - 1))]
    return next((n for n in DEFAULT_LENGTHS if n >= p95), DEFAULT_LENGTHS[-1])


def vary_sets(data: str, sets: list[str], key: str, values: list[str]) -> list[list[str]]:
    """(b)'s changes for each value: ``training.<key>=<value>`` and the search space without
    ``key`` (so the strong default leaves the key to training,
    :func:`hpo.config.reference.strong_default`). The config is read once for all values."""
    import yaml

    from hpo.api import load_config

    config = load_config(None, list(sets), data=data, check_training=False)
    if key not in config.search_space:
        raise SystemExit(
            f"--vary {key}: not a key of the search space ({sorted(config.search_space)})"
        )
    space = {name: spec.to_dict() for name, spec in config.search_space.items() if name != key}
    flow = yaml.safe_dump(space, default_flow_style=True, width=10_000).strip()
    return [[f"search_space={flow}", f"training.{key}={value}"] for value in values]


def base_of(name: str) -> str:
    """The run another is compared with: (b) for a (v) arm, which is (b) varied; else (a); at
    the same seed (``v1@43`` -> ``b@43``)."""
    arm, at, seed = name.partition("@")
    return ("b" if arm.startswith("v") else "a") + at + seed


def chosen(rows: dict[str, dict[str, Any]]) -> str | None:
    """Of (b) and the (v) arms that finished, the one whose transformer scored best on
    validation (ties to the earlier arm, (b) first): what a grid search at full fidelity hands
    over. The test split chooses nothing."""
    grid = [a for a in rows if arm_of(a) == "b" or arm_of(a).startswith("v")]
    done = [a for a in grid if "validation" in rows[a]]
    if not done:
        return None
    return max(done, key=lambda a: (rows[a]["validation"]["tuned"], -done.index(a)))


def _p(a: list[int] | None, b: list[int] | None, labels: list[int]) -> float | None:
    import numpy as np

    from hpo.final.scoring import mcnemar

    if not a or not b or len(a) != len(labels) or len(b) != len(labels):
        return None
    truth = np.asarray(labels)
    return float(mcnemar(np.asarray(a) == truth, np.asarray(b) == truth)["p_value"])


def _predictions(row: dict[str, Any]) -> dict[str, list[int] | None]:
    """The tuned transformer's and the shipped model's test predictions of one arm's run."""
    runs = Path(row["runs"])
    tuned = json.loads((runs / "final" / "metrics.json").read_text())
    choice_file = runs / "final" / "choice.json"
    shipped = None
    if choice_file.is_file():
        made = json.loads(choice_file.read_text())
        shipped = made["test"][made["shipped"]].get("predictions")
    return {"tuned": tuned.get("predictions"), "shipped": shipped}


def main() -> None:
    """Run the arms in turn, print the table, write the JSON record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="data folder")
    parser.add_argument("--budget", required=True, help="e.g. 30m")
    parser.add_argument("--set", action="append", default=[], help="passed to every arm")
    parser.add_argument("--random", action="store_true", help="also arm (c), RandomSampler")
    parser.add_argument("--search", type=int, help="also arm (s): study.n_trials=N, forced")
    parser.add_argument("--length", type=int, help="also arm (l): data.max_length=N, planned")
    parser.add_argument("--vary", help="also arms (v): (b) with KEY=V1,V2,... one arm a value")
    parser.add_argument("--arms", help="run only these arms, e.g. s (default: all asked for)")
    parser.add_argument("--a-runs", help="(a)'s runs/<study> folder from an earlier run")
    parser.add_argument("--seeds", help="training seeds, e.g. 42,43,44: each arm once at each")
    parser.add_argument("--workdir", help="keep the runs here (default: a temporary folder)")
    parser.add_argument("--machine-cache", default=str(Path.home() / ".cache" / "hpo"))
    parser.add_argument("--out", default=str(REPO / "bench" / "results"))
    opts = parser.parse_args()
    key, _, values = (opts.vary or "").partition("=")
    if opts.vary and (not key or not all(values.split(","))):
        parser.error(f"--vary {opts.vary!r}: give KEY=V1,V2,... (e.g. learning_rate=1e-4,2e-4)")
    try:
        seeds = parse_seeds(opts.seeds)
    except ValueError as err:
        parser.error(str(err))
    if opts.a_runs and seeds != [None]:
        parser.error("--a-runs compares one earlier (a) run at the config's seed: drop --seeds")
    length = default_length(opts.data, opts.set)
    arms = {
        "a": [],
        "b": ["study.n_trials=0", f"data.max_length={length}"],
    }
    if opts.random:
        arms["c"] = ["study.sampler={type: RandomSampler, seed: 42}"]
    if opts.search:
        arms["s"] = [f"study.n_trials={opts.search}"]
    if opts.length:
        arms["l"] = [f"data.max_length={opts.length}"]
    if opts.vary:
        varied = vary_sets(opts.data, opts.set, key, values.split(","))
        for i, changes in enumerate(varied, start=1):
            arms[f"v{i}"] = [*arms["b"], *changes]
    if opts.arms:
        arms = {k: v for k, v in arms.items() if k in opts.arms.split(",")}
    rows: dict[str, dict[str, Any]] = {}
    if opts.a_runs and "a" not in arms:  # (a) as it ran before: only its predictions are read
        earlier = {"runs": str(Path(opts.a_runs).absolute())}
        rows["a"] = {**earlier, "arm": "a", "predictions": _predictions(earlier), "earlier": True}
    with tempfile.TemporaryDirectory(prefix="hpo-equal-") as tmp:
        root = Path(opts.workdir) if opts.workdir else Path(tmp)
        machine_cache = opts.machine_cache
        for seed, (arm, sets) in itertools.product(seeds, arms.items()):
            name = run_name(arm, seed)
            args = argparse.Namespace(
                config=None,
                data=opts.data,
                set=[*opts.set, *sets, *([f"training.seed={seed}"] if seed is not None else [])],
                machine_cache=machine_cache,
            )
            row = run_one(args, opts.budget, root / arm / ("" if seed is None else str(seed)))
            if machine_cache == opts.machine_cache and "runs" in row:  # not a failed run
                # The later arms start from the first arm's measurement of the machine, as a
                # user's second run does: where none was cached, each arm measured the machine
                # anew, and (c)'s plan differed from (a)'s by that measurement alone.
                machine_cache = cache_of(row)
            row["arm"], row["seed"], row["sets"] = arm, seed, sets
            row["predictions"] = _predictions(row) if "tuned_accuracy" in row else {}
            rows[name] = row
            print(json.dumps({k: v for k, v in row.items() if k != "predictions"}), flush=True)
        # The same test split in every run; read from the first that finished.
        labels = next((run_labels(r) for r in rows.values() if "tuned_accuracy" in r), [])
    for arm, row in rows.items():
        base = base_of(arm)
        if arm == base or base not in rows or "tuned_accuracy" not in row:
            continue
        ours, theirs = rows[base]["predictions"], row["predictions"]
        key = arm_of(base)  # "a_vs_this_tuned_p" at every seed: the seed is the row's own
        row[f"{key}_vs_this_tuned_p"] = _p(ours.get("tuned"), theirs.get("tuned"), labels)
        row[f"{key}_vs_this_shipped_p"] = _p(ours.get("shipped"), theirs.get("shipped"), labels)
    summarize(rows)
    grids: dict[int | None, str] = {}
    for seed in seeds if opts.vary else []:  # the grid's choice at each seed, on validation
        grid = chosen({n: r for n, r in rows.items() if seed_of(n) == seed})
        if grid is None:
            continue
        grids[seed] = grid
        picked = rows[grid]
        what = picked["sets"][-1] if arm_of(grid) != "b" else "the default"
        print(
            f"\nchosen on validation of (b) and (v): {grid} ({what}), validation "
            f"{picked['validation']['tuned']:.4f}, test {100 * picked['tuned_accuracy']:.2f}%, "
            f"p against (b) {picked.get('b_vs_this_tuned_p', 1.0)}"
        )
    spread = None
    if len(seeds) > 1:
        spread = across_seeds(rows, {arm: base_of(arm) for arm in arms if base_of(arm) != arm})
        print_across_seeds(spread)
    for row in rows.values():
        row.pop("predictions", None)
    _record.write(
        opts.out,
        "equal-budget",
        {
            "data": opts.data,
            "budget": opts.budget,
            "sets": opts.set,
            "default_length": length,
            "vary": opts.vary,
            "seeds": seeds,
            "chosen_on_validation": (
                grids.get(None) if seeds == [None] else {str(k): v for k, v in grids.items()}
            ),
            "arms": rows,
            "across_seeds": spread,
        },
    )


def cache_of(row: dict[str, Any]) -> str:
    """The cache folder of an arm's run (``run_one`` gives it ``<work>/cache`` beside
    ``<work>/runs/<study>``)."""
    return str(Path(row["runs"]).parents[1] / "cache")


def run_labels(row: dict[str, Any]) -> list[int]:
    """The test split's labels, in order, as the run read them."""
    from budget import _test_labels

    return _test_labels(Path(row["runs"])) if "runs" in row else []


def summarize(rows: dict[str, dict[str, Any]]) -> None:
    """One line per arm; p is McNemar's of each (v) arm against (b), of the others against (a)."""
    names = {"a": "hpo run", "b": "no search (default)", "c": "random sampler"}
    names["s"], names["l"] = "a search forced", "another length"
    names.update(
        {
            arm_of(n): f"default, {r['sets'][-1].removeprefix('training.')}"
            for n, r in rows.items()
            if n.startswith("v")
        }
    )
    names = {n: run_name(names.get(arm_of(n), arm_of(n)), seed_of(n)) for n in rows}
    w = max(22, *(len(label) + 2 for label in names.values()))
    print(
        f"\n{'arm':<{w}}{'took':>8}{'x B':>7}{'length':>7}{'trials':>7}{'epochs':>8}"
        f"{'transformer':>13}{'95% CI':>16}{'p':>9}{'shipped':>10}{'acc':>8}{'p':>9}"
    )
    for arm, r in rows.items():
        if r.get("earlier"):
            print(f"{names[arm]:<{w}}run before: {r['runs']}")
            continue
        if "tuned_accuracy" not in r:
            print(f"{names[arm]:<{w}}failed (exit {r.get('exit_code')}), see {r.get('log')}")
            continue
        c = r["choices"]
        low, high = r["tuned_ci95"]
        base = arm_of(base_of(arm))
        p1, p2 = r.get(f"{base}_vs_this_tuned_p"), r.get(f"{base}_vs_this_shipped_p")
        interval = f"{100 * low:.2f}-{100 * high:.2f}"
        print(
            f"{names[arm]:<{w}}{r['seconds'] / 60:>7.1f}m{r['ratio_to_budget']:>7.2f}"
            f"{r.get('trained_length') or c.get('data.max_length')!s:>7}"
            f"{c.get('study.n_trials')!s:>7}"
            f"{r.get('stop_epoch')!s:>8}{100 * r['tuned_accuracy']:>12.2f}%"
            f"{interval:>16}{(f'{p1:.2g}' if p1 is not None else '-'):>9}"
            f"{r.get('shipped', '-')!s:>10}{100 * r.get('shipped_accuracy', 0):>7.2f}%"
            f"{(f'{p2:.2g}' if p2 is not None else '-'):>9}"
        )


def print_across_seeds(spread: dict[str, Any]) -> None:
    """Per arm, its mean and range over the seeds; against its base, the mean difference and
    the sign-flip p of the paired differences."""
    print(f"\n{'across seeds':<14}{'model':>9}{'mean':>9}{'range':>16}{'minus base':>12}{'p':>8}")
    for arm, entry in spread.items():
        for model, figures in entry.items():
            low, high = figures["range"]
            against = next((v for k, v in figures.items() if k.startswith("minus_")), None)
            diff = f"{100 * against['mean']:+.2f}" if against else "-"
            p = f"{against['sign_flip_p']:.2g}" if against else "-"
            print(
                f"{arm:<14}{model:>9}{100 * figures['mean']:>8.2f}%"
                f"{f'{100 * low:.2f}-{100 * high:.2f}':>16}{diff:>12}{p:>8}"
            )


if __name__ == "__main__":
    sys.exit(main())
