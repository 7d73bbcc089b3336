"""Pruners: does Optuna's successive halving, Hyperband or keeping the top third beat the median
pruner that the planner chooses, on the search a budget plans?

Plans the job for ``--budget`` as ``hpo plan`` does (the machine measurement copied from the
user's cache, as in ``bench/budget.py``), then runs that plan's search once per pruner, each in
its own study with the same sampler seed and number of trials, and without the budget's
deadline (so each search runs all its trials and the pruner alone decides what is cut). Prints
per pruner: minutes, trials completed and pruned, examples trained, the best validation value
and its trial, and the time and best value against the median pruner's.

    python bench/pruners.py --data DIR --budget 20m
    python bench/pruners.py --config study_configs/smoke.yaml --budget 2m

One seed is one draw: the pruners change which trials TPE learns from, so the best values differ
by the luck of the draw as well as by the pruner. Results go to
``bench/results/<date>-<host>.pruners.json``. Nothing else may run meanwhile.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _record  # bench/_record.py: commit, machine and results file of every benchmark
from budget import seed_machine_cache

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

#: The pruners compared with the planner's own (``median``, taken from the plan), as
#: ``study.pruner`` blocks.
OTHERS: dict[str, dict[str, Any]] = {
    "successive-halving": {"type": "SuccessiveHalvingPruner"},
    "hyperband": {"type": "HyperbandPruner"},
}
#: "Keep the top K": a trial goes on only while its best point is in the top third of the
#: completed trials' at the same step (Optuna's ``PercentilePruner``, which keeps the given
#: percentile at the top), after the same start-up trials as the plan's median pruner.
TOP_SHARE = 100 / 3
NAMES = ("median", *OTHERS, "top-third")


def pruners_for(median: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every pruner compared, as ``study.pruner`` blocks, from the plan's median pruner."""
    top = {**median, "type": "PercentilePruner", "percentile": round(TOP_SHARE, 1)}
    return {"median": median, **OTHERS, "top-third": top}


def planned_config(opts: argparse.Namespace, work: Path) -> tuple[Any, Any]:
    """The config the budget plans, and the plan."""
    from hpo.api import load_config
    from hpo.plan.budgeted import plan_budget

    seed_machine_cache(opts.machine_cache, work / "cache")
    sets = [*(opts.set or []), f"data.cache_dir={work / 'cache'}"]
    config = load_config(opts.config, sets, data=opts.data, model=opts.model, budget=opts.budget)
    planned, plan, _profile = plan_budget(config, with_reference=False)
    return planned, plan


def search_with(planned: Any, name: str, pruner: dict[str, Any], work: Path) -> dict[str, Any]:
    """``planned``'s search with ``pruner`` in a study of its own, timed."""
    import optuna
    from optuna.trial import TrialState

    from hpo.api import run_search
    from hpo.config.validate import config_from_dict

    raw = planned.to_dict()
    study_name = f"{planned.study.name}-{name}"
    raw["study"] |= {
        "name": study_name,
        "storage": f"sqlite:///{work / 'storage' / study_name}.db",
        "pruner": pruner,
        "budget": None,
    }
    raw["training"]["output_dir"] = str(work / "runs" / study_name)
    config = config_from_dict(raw, source=f"<{name}>")
    (work / "storage").mkdir(exist_ok=True)
    start = time.perf_counter()
    study = run_search(config, quiet=True)
    seconds = time.perf_counter() - start
    trials = study.get_trials(deepcopy=False)
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    best = study.best_trial if done else None  # Optuna's, in the study's direction
    trained = sum((t.user_attrs.get("evals") or [{}])[-1].get("samples_seen", 0) for t in trials)
    optuna.delete_study(study_name=study_name, storage=config.storage_url)
    return {
        "pruner": pruner,
        "seconds": round(seconds, 1),
        "trials": len(trials),
        "completed": len(done),
        "pruned": sum(t.state == TrialState.PRUNED for t in trials),
        "examples_trained": trained,
        "best_value": best.value if best else None,
        "best_trial": best.number if best else None,
        "best_params": best.params if best else None,
    }


def against_median(rows: dict[str, dict[str, Any]]) -> None:
    """Add each pruner's time ratio and best-value difference to the median pruner's."""
    base = rows.get("median")
    for r in rows.values():
        r["time_vs_median"] = round(r["seconds"] / base["seconds"], 3) if base else None
        values = (r["best_value"], base["best_value"] if base else None)
        r["best_vs_median"] = None if None in values else values[0] - values[1]


def summarize(rows: dict[str, dict[str, Any]]) -> None:
    """One line per pruner, with time and best value against the median pruner's."""
    print(
        f"{'pruner':<20}{'minutes':>8}{'done':>6}{'pruned':>8}{'trained':>10}{'best':>8}"
        f"{'trial':>7}{'x time':>8}{'vs median':>11}"
    )

    def shown(value: float | None, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    for name, r in rows.items():
        print(
            f"{name:<20}{r['seconds'] / 60:>8.1f}{r['completed']:>6}{r['pruned']:>8}"
            f"{r['examples_trained']:>10,}{shown(r['best_value'], '.4f'):>8}"
            f"{r['best_trial']!s:>7}{shown(r['time_vs_median'], '.2f'):>8}"
            f"{shown(r['best_vs_median'], '+.4f'):>11}"
        )


def main() -> None:
    """Plan once, search once per pruner, print the table, write the JSON record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="study YAML (default: the packaged default config)")
    parser.add_argument("--data", help="data folder (sets data.path)")
    parser.add_argument("--model", help="the backbone (sets model.name)")
    parser.add_argument("--budget", required=True, help="the budget whose search is compared")
    parser.add_argument("--set", action="append", help="KEY=VALUE, as hpo's --set (repeatable)")
    parser.add_argument("--pruners", nargs="+", default=list(NAMES), choices=NAMES)
    parser.add_argument(
        "--machine-cache",
        default=str(Path.home() / ".cache" / "hpo"),
        help="a cache folder whose machine/ measurements the plan starts with",
    )
    parser.add_argument("--workdir", help="keep storage and runs here (default: a temp folder)")
    parser.add_argument("--out", default=str(REPO / "bench" / "results"))
    opts = parser.parse_args()
    if not (opts.config or opts.data):
        parser.error("give --data DIR, --config FILE or both")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    work = Path(opts.workdir or tempfile.mkdtemp(prefix="hpo-pruners-")).absolute()
    work.mkdir(parents=True, exist_ok=True)
    planned, plan = planned_config(opts, work)
    choices = {c.key: c.value for c in plan.choices}
    pruners = pruners_for(dict(choices["study.pruner"]))
    epochs = choices.get("search_space.num_train_epochs") or choices.get(
        "training.num_train_epochs"
    )
    print(
        f"plan for {opts.budget}: {choices.get('data.max_length')} tokens, "
        f"{planned.study.n_trials} trials on {choices.get('data.max_train_samples') or 'all'} "
        f"examples, epochs {epochs}",
        flush=True,
    )
    rows = {}
    for name in opts.pruners:
        rows[name] = search_with(planned, name, pruners[name], work)
        print(f"{name}: {rows[name]['seconds'] / 60:.1f} min", flush=True)
    against_median(rows)
    summarize(rows)
    record = {
        "data": opts.data,
        "config": opts.config,
        "budget": opts.budget,
        "sets": opts.set or [],
        "plan_choices": choices,
        "n_trials": planned.study.n_trials,
        "results": rows,
    }
    _record.write(opts.out, "pruners", record)


if __name__ == "__main__":
    main()
