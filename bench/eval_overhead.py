"""What one evaluation costs beside scoring its examples: the constant the planner charges per
evaluation (:data:`hpo.plan.constants.EVAL_OVERHEAD_SECONDS`), measured on this machine.

Two parts, timed one after the other:

- **Trainer**: ``trainer.evaluate()`` of hpo's own Trainer (``build_trainer``, the config's
  model and length) on validation subsets of several sizes; a least-squares line through
  (examples, seconds) gives the seconds an example (what the machine measurement's scoring
  rate covers) and its intercept, the fixed cost of one evaluation (data loader, model mode,
  metrics, callbacks). The intercept of a line is at the mercy of how the time per example
  bends with the subset's size; what the smallest subset's ``evaluate()`` took is a bound on it
  that cannot go negative, and the overhead below is that bound.
- **Storage**: what a search trial writes at each evaluation (its evaluations so far as a user
  attr, the intermediate value, the pruner's question), in a study of the storage the config
  names (``--storage`` to try another, e.g. PostgreSQL).

Prints both, their sum (an upper bound of what an evaluation costs beside its examples)
against the constant, and the ratio.

    python bench/eval_overhead.py --data DIR --set data.max_length=64
    python bench/eval_overhead.py --config study_configs/smoke.yaml --storage postgresql://...

Results go to ``bench/results/<date>-<host>.eval-overhead.json``. Nothing else may run
meanwhile.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import _record  # bench/_record.py: commit, machine and results file of every benchmark

REPO = Path(__file__).resolve().parent.parent


def _median_seconds(call: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def trainer_part(config: Any, sizes: list[int], repeats: int, work: Path) -> dict[str, Any]:
    """Seconds of ``trainer.evaluate()`` at each subset size, and the line through them."""
    import numpy as np

    from hpo.search.loop import load_search_data
    from hpo.train.trainer import build_trainer

    tokenizer, prepared = load_search_data(config.model, config.data, config.study.metric)
    validation = prepared.splits["validation"]
    sizes = sorted({min(n, len(validation)) for n in sizes})
    trainer = build_trainer(
        config.trainer_setup,
        train_dataset=prepared.splits["train"],
        eval_dataset=validation,
        tokenizer=tokenizer,
        output_dir=work / "trainer",
        quiet=True,
    )
    seconds = {}
    for n in sizes:
        subset = validation.select(range(n))
        trainer.evaluate(eval_dataset=subset)  # warm-up: the first pass at a shape is slower
        seconds[n] = _median_seconds(lambda s=subset: trainer.evaluate(eval_dataset=s), repeats)
    slope, intercept = np.polyfit(list(seconds), list(seconds.values()), 1)
    return {
        "seconds_by_examples": seconds,
        "seconds_per_example": float(slope),
        "fixed_seconds_fit": float(intercept),
        # Everything the smallest subset took, its examples included: a bound, never negative.
        "fixed_seconds_at_most": seconds[sizes[0]],
        "length": config.data.max_length,
        "eval_batch": config.training.get("per_device_eval_batch_size"),
    }


def storage_part(url: str, evaluations: int) -> dict[str, Any]:
    """Seconds of one evaluation's writes and the pruner's question, per evaluation."""
    import optuna

    from hpo.config.samplers import build_pruner
    from hpo.search.storage import make_storage
    from hpo.train.trial_record import EVALS_ATTR

    storage = make_storage(url)
    name = f"eval-overhead-{time.time_ns()}"
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        direction="maximize",
        pruner=build_pruner({"type": "MedianPruner"}),
    )
    per_eval = []
    for number in range(4):  # later trials: the pruner compares with the earlier ones
        trial = study.ask()
        history: list[dict[str, float]] = []
        for step in range(evaluations):
            record = {"epoch": step, "samples_seen": step * 100, "value": 0.5 + number / 100}
            start = time.perf_counter()
            history.append(record)
            trial.set_user_attr(EVALS_ATTR, history)
            trial.report(record["value"], record["samples_seen"])
            trial.should_prune()
            per_eval.append(time.perf_counter() - start)
        study.tell(trial, history[-1]["value"])
    optuna.delete_study(study_name=name, storage=storage)
    return {
        "storage": url.split("://")[0],
        "evaluations": len(per_eval),
        "seconds_per_evaluation": statistics.median(per_eval),
        "slowest": max(per_eval),
    }


def main() -> None:
    """Time both parts, print them against the constant, write the JSON record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="study YAML (default: the packaged default config)")
    parser.add_argument("--data", help="data folder (sets data.path)")
    parser.add_argument("--model", help="the backbone (sets model.name)")
    parser.add_argument("--set", action="append", help="KEY=VALUE, as hpo's --set (repeatable)")
    parser.add_argument("--storage", help="a storage URL (default: SQLite in a temp folder)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 64, 256, 512])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--evaluations", type=int, default=10, help="per trial, 4 trials")
    parser.add_argument("--out", default=str(REPO / "bench" / "results"))
    opts = parser.parse_args()

    from hpo.api import load_config
    from hpo.plan.constants import EVAL_OVERHEAD_SECONDS

    with tempfile.TemporaryDirectory(prefix="hpo-eval-overhead-") as tmp:
        work = Path(tmp)
        sets = [*(opts.set or []), f"training.output_dir={work / 'runs'}"]
        config = load_config(opts.config, sets, data=opts.data, model=opts.model)
        trainer = trainer_part(config, opts.sizes, opts.repeats, work)
        url = opts.storage or f"sqlite:///{work / 'storage.db'}"
        storage = storage_part(url, opts.evaluations)
    measured = trainer["fixed_seconds_at_most"] + storage["seconds_per_evaluation"]
    for n, s in trainer["seconds_by_examples"].items():
        print(f"evaluate() on {n:>5} examples: {s:.3f} s")
    print(
        f"Trainer: {trainer['seconds_per_example'] * 1000:.2f} ms an example; fixed cost of an "
        f"evaluation at most {trainer['fixed_seconds_at_most']:.3f} s (the line's intercept "
        f"{trainer['fixed_seconds_fit']:+.3f} s; length {trainer['length']})"
    )
    print(
        f"storage ({storage['storage']}): {storage['seconds_per_evaluation'] * 1000:.1f} ms an "
        f"evaluation (slowest {storage['slowest'] * 1000:.1f} ms of {storage['evaluations']})"
    )
    print(
        f"overhead an evaluation: at most {measured:.3f} s, {EVAL_OVERHEAD_SECONDS} s charged "
        f"(charged / measured {EVAL_OVERHEAD_SECONDS / measured:.2f})"
    )
    _record.write(
        opts.out,
        "eval-overhead",
        {
            "trainer": trainer,
            "storage": storage,
            "measured_seconds": measured,
            "charged_seconds": EVAL_OVERHEAD_SECONDS,
        },
    )


if __name__ == "__main__":
    main()
