"""Frontier: validation accuracy against minutes, for token lengths, truncations and data sizes.

The main job's budget (issue 15: ``hpo run`` in 90 minutes on 2 CPU cores) buys either more
context per review or more reviews. This bench measures both on hpo's own code path (the
config's data preparation, tokenization cache, ``build_trainer`` and the search's ``hp_space``):
per point it trains MiniLM once for one epoch with fixed params on ``n_train`` reviews of the
search's training split and scores the whole validation split (the 10% of IMDb's training
reviews the search holds out; the test split is never read). It prints, per point:

* validation accuracy with its 95% bootstrap CI;
* training and scoring rates (reviews/s) and minutes;
* the main job's minutes at that point, projected from those rates with the budget planner's
  own cost model (:mod:`hpo.plan.costs`: the config's 10 trials, the first three whole and a
  third of the rest pruned at their first evaluation, two evaluations an epoch on
  ``max_eval_samples`` reviews, a model load per trial; then 25,000 reviews trained, 25,000
  scored and 30 s of baselines), so a point can be chosen under the 90-minute budget by
  validation accuracy alone: of the points within one standard error of the highest
  validation accuracy, the fastest (:func:`choose`). ``hpo run --budget`` makes the same kind
  of choice from the machine's measured rates alone (``hpo plan`` prints it); this benchmark
  measures the accuracy side of it.

    python bench/frontier.py --data ../shared/data/imdb            # about 30 min on 2 cores
    python bench/frontier.py --data ../shared/data/imdb --points 256:head+tail:4000

Results go to ``bench/results/<date>-<host>.frontier.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import _record  # bench/_record.py: commit, machine and results file of every benchmark

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
REPO = Path(__file__).resolve().parent.parent

#: length:truncation:reviews, in the order they run.
DEFAULT_POINTS = (
    "128:head:4000",
    "128:head+tail:4000",
    "192:head+tail:4000",
    "256:head:4000",
    "256:head+tail:4000",
    "256:head+tail:2000",
)
#: One recipe for every point, so that only context and data differ: the learning rate the
#: issue's outside measurements used, no warmup to speak of at one epoch, the usual decay.
PARAMS = {"learning_rate": 5e-5, "per_device_train_batch_size": 16, "weight_decay": 0.01}
WARMUP_SHARE = 0.06
FINAL_TRAIN = FINAL_TEST = 25_000
BUDGET_MINUTES = 90
#: The config's trials, and seconds to load the model and set up a train() call in each.
TRIALS, LOAD_SECONDS = 10, 6.0


def project_minutes(
    train_rate: float, eval_rate: float, *, search_reviews: int, eval_reviews: int
) -> dict[str, float]:
    """The main job's minutes at this point, from the measured rates, by the planner's cost
    model (module docstring)."""
    from hpo.plan.costs import Costs, search_seconds

    costs = Costs(train=1 / train_rate, eval=1 / eval_rate, load=LOAD_SECONDS)
    search = search_seconds(costs, search_reviews, TRIALS, (1, 1), eval_reviews, 2)
    final = costs.load + FINAL_TRAIN * costs.train + FINAL_TEST * costs.eval + 30
    return {
        "search": round(search / 60, 1),
        "final": round(final / 60, 1),
        "total": round((search + final) / 60, 1),
    }


def choose(points: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The one-standard-error rule: of the points whose validation accuracy is within one
    standard error of the highest, the one with the fewest projected minutes. Differences
    smaller than the noise of the validation split do not buy minutes."""
    if not points:
        return None
    top = max(points, key=lambda r: r["validation_accuracy"])
    p, n = top["validation_accuracy"], top["validation_reviews"]
    floor = p - (p * (1 - p) / n) ** 0.5
    close = [r for r in points if r["validation_accuracy"] >= floor]
    return min(close, key=lambda r: r["projected_minutes"]["total"])


def run_point(opts: argparse.Namespace, point: str, workdir: Path) -> dict[str, Any]:
    """Train once at ``length:truncation:reviews`` and score the validation split."""
    from hpo.api import load_config
    from hpo.data.tokenized import prepare
    from hpo.final.scoring import score
    from hpo.train.inference import predict_logits
    from hpo.train.model import load_tokenizer
    from hpo.train.trainer import build_trainer, replay

    length, truncation, reviews = point.split(":")
    config = load_config(
        opts.config,
        [
            f"data.path={opts.data}",
            f"data.max_length={length}",
            f"data.truncation={truncation}",
            f"data.max_train_samples={reviews}",
            "data.max_eval_samples=null",
            f"data.cache_dir={opts.cache_dir or workdir / 'cache'}",
            f"training.output_dir={workdir / 'out'}",
        ],
    )
    tokenizer = load_tokenizer(config.model)
    prepared = prepare(config.data, tokenizer, stage="search")
    train, validation = prepared.splits["train"], prepared.splits["validation"]
    steps = math.ceil(len(train) / PARAMS["per_device_train_batch_size"])
    # Warmup in steps: a config that searches steps would cast a share to the int 0.
    params = {**PARAMS, "warmup_steps": round(WARMUP_SHARE * steps), "num_train_epochs": 1}
    trainer = build_trainer(
        config.trainer_setup,
        train_dataset=train,
        eval_dataset=None,
        tokenizer=tokenizer,
        output_dir=workdir / "out",
        quiet=True,
        # Keys the search does not own are plain training arguments; the rest go in through
        # the search's hp_space, as in every trial.
        overrides={k: v for k, v in params.items() if k not in config.search_space},
    )
    start = time.perf_counter()
    output = trainer.train(trial=replay(trainer, config.search_space, params))
    train_seconds = time.perf_counter() - start
    logits, labels, eval_seconds = predict_logits(trainer, validation)
    # The final stage's scoring: accuracy and its bootstrap interval.
    scores = score(logits.argmax(-1), labels, prepared.labels)
    train_rate = len(train) / train_seconds
    eval_rate = len(validation) / eval_seconds
    result = {
        "point": point,
        "max_length": int(length),
        "truncation": truncation,
        "train_reviews": len(train),
        "validation_reviews": len(validation),
        "validation_accuracy": round(scores["accuracy"], 4),
        "validation_ci95": [round(x, 4) for x in scores["ci95"]],
        "train_seconds": round(train_seconds, 1),
        "train_samples_per_second": round(train_rate, 2),
        "trainer_samples_per_second": round(output.metrics.get("train_samples_per_second", 0), 2),
        "eval_seconds": round(eval_seconds, 1),
        "eval_samples_per_second": round(eval_rate, 2),
        "params": params,
        "projected_minutes": project_minutes(
            train_rate,
            eval_rate,
            search_reviews=int(opts.search_reviews),
            eval_reviews=opts.eval_reviews,
        ),
    }
    del trainer
    gc.collect()
    return result


def summarize(
    results: list[dict[str, Any]], *, search_reviews: int = 2000, eval_reviews: int = 1000
) -> dict[str, Any]:
    """Print the table and the choice; return the choice for the record. Projections are
    made again from each point's recorded rates, so a results file is read with the cost
    model of the code that reads it."""
    for r in results:
        r["projected_minutes"] = project_minutes(
            r["train_samples_per_second"],
            r["eval_samples_per_second"],
            search_reviews=search_reviews,
            eval_reviews=eval_reviews,
        )
    print(f"{'point':<22}{'val acc':>9}{'95% CI':>16}{'train/s':>9}{'eval/s':>8}{'job min':>9}")
    for r in results:
        lo, hi = r["validation_ci95"]
        print(
            f"{r['point']:<22}{r['validation_accuracy']:>9.4f}{f'{lo:.4f}-{hi:.4f}':>16}"
            f"{r['train_samples_per_second']:>9.2f}{r['eval_samples_per_second']:>8.2f}"
            f"{r['projected_minutes']['total']:>9.1f}"
        )
    fits = [r for r in results if r["projected_minutes"]["total"] <= BUDGET_MINUTES]
    top = max(fits, key=lambda r: r["validation_accuracy"]) if fits else None
    best = choose(fits)
    print(
        f"highest validation accuracy within {BUDGET_MINUTES} projected minutes: "
        f"{top['point'] if top else 'none'}; chosen by the one-standard-error rule: "
        f"{best['point'] if best else 'none'}"
    )
    return {
        "budget_minutes": BUDGET_MINUTES,
        "highest_within_budget": top["point"] if top else None,
        "chosen_within_budget": best["point"] if best else None,
        "rule": "one standard error: the fastest point within one standard error of the "
        "highest validation accuracy",
    }


def main() -> None:
    """Run the points one after the other, print a table, write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO / "study_configs" / "imdb_minilm.yaml"))
    parser.add_argument("--data", help="local copy of IMDb (train/test parquet)")
    parser.add_argument("--points", nargs="+", default=list(DEFAULT_POINTS))
    parser.add_argument("--search-reviews", type=int, default=2000, help="for the projection")
    parser.add_argument("--eval-reviews", type=int, default=1000, help="for the projection")
    parser.add_argument("--cache-dir", default=None, help="tokenization cache (default: temp)")
    parser.add_argument("--out", default=str(REPO / "bench" / "results"))
    parser.add_argument("--summarize", metavar="FILE", help="reprint a results file; no training")
    opts = parser.parse_args()
    if opts.summarize:
        record = json.loads(Path(opts.summarize).read_text())
        summarize(
            record["points"], search_reviews=opts.search_reviews, eval_reviews=opts.eval_reviews
        )
        return
    if not opts.data:
        parser.error("--data is required (a local copy of IMDb: train/test parquet)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    results = []
    with tempfile.TemporaryDirectory(prefix="hpo-frontier-") as tmp:
        for point in opts.points:
            row = run_point(opts, point, Path(tmp))
            results.append(row)
            print(json.dumps(row), flush=True)
    print()
    choice = summarize(results, search_reviews=opts.search_reviews, eval_reviews=opts.eval_reviews)
    _record.write(
        opts.out,
        "frontier",
        {
            "config": opts.config,
            "params": PARAMS,
            "warmup_share": WARMUP_SHARE,
            "points": results,
            **choice,
        },
    )


if __name__ == "__main__":
    main()
