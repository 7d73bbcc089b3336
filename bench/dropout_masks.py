"""Do packed dropout masks cost accuracy? The same params trained with PyTorch's masks and with
hpo's packed ones (``model.dropout_masks: torch`` / ``auto`` on a CPU), over several seeds.

Packed masks change the numerics of training: ``p`` is rounded to 1/65536 and the masks come
from another stream of the same generator. They stay the CPU default only if the packed mean
validation accuracy is no more than 0.5 points below PyTorch's (issue 13). Each run trains the
packaged MiniLM for one epoch on a stratified IMDb subset with the MiniLM study's reference
params and scores the validation subset, in this one process, one run after another.

    python bench/dropout_masks.py ../shared/data/imdb           # 5 seeds each: about 9 minutes

Nothing else may run on the machine meanwhile. Results go to
``bench/results/dropout-masks-<date>.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

MAX_DROP = 0.005
PARAMS = {
    "learning_rate": 5e-5,
    "per_device_train_batch_size": 16,
    "warmup_steps": 0,
    "weight_decay": 0.01,
}


def run(imdb: str, masks: str, seed: int, args: argparse.Namespace, work: Path) -> dict:
    """One training run: validation accuracy, training seconds and the masks it drew with."""
    from hpo.api import load_config
    from hpo.search.loop import load_search_data
    from hpo.train.trainer import build_trainer, replay

    config = load_config(
        REPO / "study_configs" / "imdb_minilm.yaml",
        [
            f"data.path={imdb}",
            f"data.max_train_samples={args.train}",
            f"data.max_eval_samples={args.eval}",
            f"data.max_length={args.max_length}",
            f"data.cache_dir={work / 'cache'}",
            f"model.dropout_masks={masks}",
            f"training.seed={seed}",
            f"training.output_dir={work / 'runs'}",
        ],
    )
    tokenizer, prepared = load_search_data(config.model, config.data, config.study.metric)
    trainer = build_trainer(
        config.trainer_setup,
        train_dataset=prepared.splits["train"],
        eval_dataset=prepared.splits["validation"],
        tokenizer=tokenizer,
        output_dir=work / "runs" / "trainer",
        quiet=True,
    )
    start = time.perf_counter()
    trainer.train(trial=replay(trainer, config.search_space, PARAMS))
    seconds = time.perf_counter() - start
    accuracy = max(e["accuracy"] for e in trainer.eval_history)
    return {
        "masks": trainer.kernels.dropout_masks,
        "seed": seed,
        "accuracy": accuracy,
        "train_seconds": round(seconds, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("imdb", help="the IMDb folder (train/test parquet)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--train", type=int, default=1000)
    parser.add_argument("--eval", type=int, default=500)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--output")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hpo-dropout-masks-"))
    imdb = str(Path(args.imdb).resolve())
    runs = []
    for seed in range(args.seeds):
        for masks in ("torch", "auto"):
            result = run(imdb, masks, seed, args, work)
            runs.append(result)
            print(json.dumps(result), flush=True)
    summary = {}
    print("\n| dropout masks | validation accuracy, mean ± std | min - max | training s, mean |")
    print("| --- | ---: | ---: | ---: |")
    for masks in ("torch", "packed"):
        accs = [r["accuracy"] for r in runs if r["masks"] == masks]
        secs = [r["train_seconds"] for r in runs if r["masks"] == masks]
        summary[masks] = {
            "mean": statistics.fmean(accs),
            "std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
            "min": min(accs),
            "max": max(accs),
            "train_seconds_mean": statistics.fmean(secs),
        }
        s = summary[masks]
        print(
            f"| {masks} | {100 * s['mean']:.2f}% ± {100 * s['std']:.2f} | "
            f"{100 * s['min']:.2f} - {100 * s['max']:.2f}% | {s['train_seconds_mean']:.1f} |"
        )
    drop = summary["torch"]["mean"] - summary["packed"]["mean"]
    speed = summary["torch"]["train_seconds_mean"] / summary["packed"]["train_seconds_mean"]
    met = drop <= MAX_DROP
    print(f"\npacked mean is {100 * drop:+.2f} points below torch's (allowed {100 * MAX_DROP}):")
    print(f"{'met' if met else 'NOT met'}; training speed torch/packed: {speed:.2f}x")
    out = Path(
        args.output
        or REPO / "bench" / "results" / f"dropout-masks-{datetime.now(UTC):%Y-%m-%d}.json"
    )
    out.write_text(
        json.dumps(
            {
                "runs": runs,
                "summary": summary,
                "drop": drop,
                "speed_torch_over_packed": speed,
                "met": met,
                "setup": vars(args) | {"params": PARAMS},
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
            },
            indent=2,
        )
        + "\n"
    )
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
