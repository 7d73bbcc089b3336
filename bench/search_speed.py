"""Search speed: hpo's search against the plain Transformers recipe, side by side.

Both searches run on the same machine, model, data subset, search space, sampler seed and
number of trials, one after the other, each in a fresh process:

* **ours**: ``hpo.search.run_search``, as ``hpo search`` runs it (dynamic padding, length-bucketed
  training batches, evaluation in length order, bf16 autocast where the hardware has it, no
  checkpoints during trials, the config's pruner fed ``study.evals_per_epoch`` evaluations per
  epoch);
* **plain**: what the Transformers documentation shows: ``datasets.map`` padding every review to
  ``max_length``, ``eval_strategy``/``save_strategy="epoch"`` with ``load_best_model_at_end``,
  and ``trainer.hyperparameter_search(backend="optuna")`` with no pruning.

Per search it prints wall time per trial and in total, the best validation accuracy, padding
efficiency (real tokens / processed tokens), framework overhead (trial wall time outside training
steps and evaluation, as a share of trial time), and resident memory trial by trial; then the
ratios ours/plain, the targets of issue 6, and how long a first and a second run spend preparing
the 25,000-review training split. Results go to ``bench/results/<date>-<host>.json``.

    python bench/search_speed.py                  # default size: about 21 min on 2 CPU cores
    python bench/search_speed.py --max-length 512 --train 2000 --eval 1000   # e.g. on a GPU

The study is ``bench/search_speed.yaml``: 10 one-epoch trials on 1,000 reviews at 128 tokens,
scored on 300, sized for a 2-core CPU. At 256-512 tokens, where padding wastes more, a CPU
trains MiniLM too slowly (1.5 reviews/s at 512 with padding) for trials that learn anything in
30 minutes. Ratios carry over; absolute figures do not.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import _record  # bench/_record.py: commit, machine and results file of every benchmark

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
REPO = Path(__file__).resolve().parent.parent

TARGETS = {
    "wall_ratio_max": 0.5,
    "accuracy_drop_max": 0.003,
    "padding_efficiency_min": 0.9,
    "overhead_max": 0.03,
    "warm_prep_seconds_max": 2.0,
    "rss_growth_max": 0.05,
}


# ----------------------------------------------------------------------------------------------
# Shared by the child processes
# ----------------------------------------------------------------------------------------------


def bench_config(opts: argparse.Namespace, study: str, workdir: Path, **data: Any) -> Any:
    """The study both searches read (``--config``), resized by any ``--train``/``--eval``/
    ``--max-length``, with its storage, caches and outputs in ``workdir``."""
    from hpo.api import load_config

    overrides = [f"data.path={opts.data}"] if opts.data else []
    sizes = {
        "max_length": opts.max_length,
        "max_train_samples": opts.train,
        "max_eval_samples": opts.eval,
    }
    sizes = {k: v for k, v in sizes.items() if v is not None} | data
    overrides += [f"data.{k}={'null' if v is None else v}" for k, v in sizes.items()]
    overrides += [
        f"data.cache_dir={workdir / 'cache'}",
        f"training.output_dir={workdir / study}",
        *opts.set,
    ]
    return load_config(
        opts.config,
        overrides,
        n_trials=opts.n_trials,  # None: the config's
        study_name=study,
        storage=f"sqlite:///{workdir / (study + '.db')}",
    )


def _trial_rows(study: Any, config: Any) -> list[dict[str, Any]]:
    default_epochs = config.training.get("num_train_epochs", 3)
    rows = []
    for t in study.trials:
        wall = (
            (t.datetime_complete - t.datetime_start).total_seconds()
            if t.datetime_complete and t.datetime_start
            else None
        )
        # Ours stores its evaluations; the plain recipe's are its per-epoch reports.
        evals = t.user_attrs.get("evals") or [
            {"accuracy": v, "step": s} for s, v in sorted(t.intermediate_values.items())
        ]
        rows.append(
            {
                "number": t.number,
                "state": t.state.name,
                "params": t.params,
                "value": t.value,
                # The model a trial keeps is its best evaluation (ours by design, the plain
                # recipe through load_best_model_at_end); its end-of-training one is the last.
                "best_accuracy": max(e["accuracy"] for e in evals) if evals else None,
                "final_accuracy": evals[-1]["accuracy"] if evals else None,
                "n_evals": len(evals),
                "epochs": t.params.get("num_train_epochs", default_epochs),
                "wall_seconds": wall,
                **{
                    k: t.user_attrs.get(k)
                    for k in (
                        "step_seconds",
                        "eval_seconds",
                        "tokens_real",
                        "tokens_processed",
                        "rss_mb",
                        "peak_rss_mb",
                        "train_attn_implementation",
                        "eval_attn_implementation",
                        "dropout_masks",
                    )
                },
            }
        )
    return rows


def _padded(tokenizer: Any, length: int) -> Any:
    """The recipe's tokenization: every review truncated and padded to ``length``."""

    def encode(batch: dict[str, list[Any]]) -> dict[str, Any]:
        return tokenizer(batch["text"], padding="max_length", truncation=True, max_length=length)

    return encode


def child_ours(opts: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """hpo's search, as ``hpo search`` runs it."""
    import optuna

    from hpo.api import run_search
    from hpo.search.loop import load_search_data
    from hpo.train.arguments import hardware_precision, precision_defaults

    config = bench_config(opts, "ours", workdir)
    precision = precision_defaults(config.training, **hardware_precision())
    start = time.perf_counter()
    run_search(config, quiet=True)
    total = time.perf_counter() - start
    study = optuna.load_study(study_name="ours", storage=config.storage_url)
    _, prepared = load_search_data(
        config.model, config.data, config.study.metric
    )  # from the cache the search filled
    return {
        "total_seconds": total,
        "n_train": len(prepared.splits["train"]),
        "trials": _trial_rows(study, config),
        "precision": precision or "fp32",
        "settings": config.to_dict(),
    }


def child_plain(opts: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """The documentation's recipe: pad to max_length, checkpoint every epoch, no pruning."""
    import optuna
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )

    from hpo.config.samplers import build_sampler
    from hpo.config.space import make_hp_space
    from hpo.data.sources import load_raw
    from hpo.data.splits import split_train
    from hpo.train.callbacks import StepTimer
    from hpo.train.memory import memory_mb
    from hpo.train.model import resolve
    from hpo.train.objective import Objective, make_compute_metrics

    config = bench_config(opts, "plain", workdir)
    model_path = resolve(config.model.name)
    length = config.data.max_length
    start = time.perf_counter()

    # The same seeded, stratified subsets as ours; only the tokenization differs.
    raw, _ = load_raw(config.data)
    train, validation = split_train(raw["train"], config.data)
    tokenizer = AutoTokenizer.from_pretrained(model_path)

    train = train.map(_padded(tokenizer, length), batched=True)
    validation = validation.map(_padded(tokenizer, length), batched=True)
    real = sum(sum(mask) for mask in train["attention_mask"])

    def model_init(trial: Any = None) -> Any:
        return AutoModelForSequenceClassification.from_pretrained(model_path, num_labels=2)

    fixed = dict(config.training)
    # Our means, not the recipe's: the plain run samples batches at random.
    fixed.pop("train_sampling_strategy", None)
    fixed.pop("group_by_length", None)
    args = TrainingArguments(
        **fixed
        | {
            "output_dir": str(workdir / "plain"),
            "eval_strategy": "epoch",
            "save_strategy": "epoch",
            "load_best_model_at_end": True,
            "metric_for_best_model": "accuracy",
            # Trainer casts a trial's value to the type of the current one: a float warmup
            # fraction needs a float here or it becomes 0.
            "warmup_steps": 0.0,
            "report_to": "none",
            "disable_tqdm": True,
            "log_level": "error",
            "dataloader_pin_memory": False,
        }
    )

    class Memory(TrainerCallback):
        """RSS after each trial, and the attention kernel the trial's model ran."""

        def __init__(self) -> None:
            self.runs: list[tuple[float, float]] = []
            self.kernels: list[str | None] = []

        def on_train_end(self, *a: Any, model: Any = None, **k: Any) -> None:
            self.runs.append(memory_mb())
            self.kernels.append(
                getattr(getattr(model, "config", None), "_attn_implementation", None)
            )

    trainer = Trainer(
        model_init=model_init,
        args=args,
        train_dataset=train,
        eval_dataset=validation,
        processing_class=tokenizer,
        compute_metrics=make_compute_metrics(Objective("accuracy", 2)),
    )
    timer, memory = StepTimer(), Memory()
    trainer.add_callback(timer)
    trainer.add_callback(memory)
    trainer.hyperparameter_search(
        hp_space=make_hp_space(config.search_space),
        n_trials=config.study.n_trials,
        direction="maximize",
        backend="optuna",
        study_name="plain",
        storage=config.storage_url,
        sampler=build_sampler(config.study.sampler),
        pruner=optuna.pruners.NopPruner(),
    )
    total = time.perf_counter() - start
    study = optuna.load_study(study_name="plain", storage=config.storage_url)
    rows = _trial_rows(study, config)
    # Trials run one after another, so the i-th train() call is trial i.
    for row, timed, (rss, peak), kernel in zip(
        rows, timer.runs, memory.runs, memory.kernels, strict=True
    ):
        epochs = row["epochs"]
        row |= {
            "step_seconds": timed["step_seconds"],
            "eval_seconds": timed["eval_seconds"],
            "tokens_real": int(real * epochs),
            "tokens_processed": int(len(train) * length * epochs),
            "rss_mb": round(rss, 1),
            "peak_rss_mb": round(peak, 1),
            # The recipe loads Transformers' default kernel and keeps it for both loops.
            "train_attn_implementation": kernel,
            "eval_attn_implementation": kernel,
        }
    checkpoints = len(list((workdir / "plain").rglob("checkpoint-*")))
    return {
        "total_seconds": total,
        "n_train": len(train),
        "trials": rows,
        "checkpoints_written": checkpoints,
    }


def child_prep(opts: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Time ``hpo.data.tokenized.prepare`` on the whole training split (a cold or a warm cache)."""
    from hpo.data.tokenized import prepare
    from hpo.train.model import load_tokenizer

    config = bench_config(opts, "prep", workdir, max_train_samples=None, max_eval_samples=None)
    tokenizer = load_tokenizer(config.model)
    start = time.perf_counter()
    prepared = prepare(config.data, tokenizer, stage="search")
    seconds = time.perf_counter() - start
    n = sum(len(s) for s in prepared.splits.values())
    return {"seconds": seconds, "reviews": n, "cache_hit": prepared.cache_hit}


def child_prep_plain(opts: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """The recipe's preparation of the same split: ``load_dataset`` + padded ``map``.

    ``datasets`` caches the map result under its own fingerprint, so a second run can hit that
    cache too; this shows whether it does.
    """
    from datasets import load_dataset
    from transformers import AutoTokenizer

    from hpo.data.sources import locate
    from hpo.train.model import resolve

    config = bench_config(opts, "prep", workdir)
    source = locate(config.data)
    tokenizer = AutoTokenizer.from_pretrained(resolve(config.model.name))
    length = config.data.max_length
    start = time.perf_counter()
    files = [str(p) for p in source.files["train"]]
    fmt = {".parquet": "parquet", ".csv": "csv"}.get(Path(files[0]).suffix, "json")
    ds = load_dataset(fmt, data_files={"train": files}, cache_dir=str(workdir / "hf"))["train"]
    ds = ds.map(_padded(tokenizer, length), batched=True)
    return {"seconds": time.perf_counter() - start, "reviews": len(ds)}


CHILDREN = {
    "ours": child_ours,
    "plain": child_plain,
    "prep": child_prep,
    "prep-plain": child_prep_plain,
}


# ----------------------------------------------------------------------------------------------
# The parent: run the children, compare, print, save
# ----------------------------------------------------------------------------------------------


def _spawn(role: str, argv: list[str], workdir: Path) -> dict[str, Any]:
    out = workdir / f"{role}-{time.monotonic_ns()}.json"
    cmd = [sys.executable, __file__, *argv, "--role", role, "--workdir", str(workdir)]
    cmd += ["--role-out", str(out)]
    print(f"[{datetime.now():%H:%M:%S}] {role} ...", flush=True)
    started = time.perf_counter()
    code = subprocess.run(cmd).returncode
    if code != 0:
        raise SystemExit(f"search_speed: the {role} run failed (exit {code}); see above.")
    result = json.loads(out.read_text())
    print(f"[{datetime.now():%H:%M:%S}] {role} done in {time.perf_counter() - started:.0f} s")
    return result


def summarize(result: dict[str, Any]) -> dict[str, Any]:
    """Per-search figures from the trial rows."""
    trials = [t for t in result["trials"] if t["state"] in ("COMPLETE", "PRUNED")]
    walls = [t["wall_seconds"] for t in trials]
    wall = sum(walls)
    inside = sum(t["step_seconds"] + t["eval_seconds"] for t in trials)
    complete = [t for t in trials if t["state"] == "COMPLETE"]
    real = sum(t["tokens_real"] or 0 for t in trials)
    processed = sum(t["tokens_processed"] or 0 for t in trials)
    rss = [t["rss_mb"] for t in trials]
    peak = [t["peak_rss_mb"] for t in trials]
    # Memory legitimately grows until the largest batch size has run once; a leak shows as
    # the high-water mark still climbing after that.
    sizes = [t["params"].get("per_device_train_batch_size") for t in trials]
    settled = max(sizes.index(size) for size in set(sizes))
    # Throughput from the completed trials, which trained every epoch they planned.
    epochs = sum(t["epochs"] for t in complete)
    return {
        "n_trials": len(trials),
        "n_pruned": sum(t["state"] == "PRUNED" for t in trials),
        "total_seconds": result["total_seconds"],
        "trials_seconds": wall,
        "seconds_per_trial": wall / len(trials),
        "trial_seconds": [round(w, 1) for w in walls],
        # Of the models the search hands over (its completed trials' kept checkpoints)...
        "best_accuracy": max(t["best_accuracy"] for t in complete),
        # ...and at the end of training (what Trainer reports as the plain trials' value).
        "best_final_accuracy": max(t["final_accuracy"] for t in complete),
        "padding_efficiency": real / processed if processed else None,
        "step_seconds": sum(t["step_seconds"] for t in trials),
        "eval_seconds": sum(t["eval_seconds"] for t in trials),
        "overhead_seconds_per_trial": (wall - inside) / len(trials),
        "overhead_fraction": (wall - inside) / wall,
        "train_samples_per_second": result["n_train"]
        * epochs
        / sum(t["step_seconds"] for t in complete),
        # A complete trial's wall time per epoch: its training, evaluations and overhead.
        "seconds_per_epoch": sum(t["wall_seconds"] for t in complete) / epochs,
        "rss_mb": rss,
        "peak_rss_mb": peak,
        "rss_settled_after_trial": settled,
        "rss_growth": (peak[-1] - peak[settled]) / peak[settled],
    }


def compare(ours: dict[str, Any], plain: dict[str, Any], prep: dict[str, Any]) -> dict[str, Any]:
    """Ratios ours/plain and the targets, each with its verdict."""
    ratio = {
        k: ours[k] / plain[k]
        for k in (
            "total_seconds",
            "trials_seconds",
            "seconds_per_trial",
            "best_accuracy",
            "padding_efficiency",
            "overhead_seconds_per_trial",
            "overhead_fraction",
            "train_samples_per_second",
            "seconds_per_epoch",
        )
        if plain.get(k)
    }
    checks = {
        "wall_ratio": (ratio["total_seconds"], ratio["total_seconds"] <= TARGETS["wall_ratio_max"]),
        "accuracy_drop": (
            plain["best_accuracy"] - ours["best_accuracy"],
            plain["best_accuracy"] - ours["best_accuracy"] <= TARGETS["accuracy_drop_max"] + 1e-9,
        ),
        "padding_efficiency": (
            ours["padding_efficiency"],
            ours["padding_efficiency"] >= TARGETS["padding_efficiency_min"],
        ),
        "overhead": (
            ours["overhead_fraction"],
            ours["overhead_fraction"] <= TARGETS["overhead_max"],
        ),
        "warm_prep_seconds": (
            prep["ours_warm"]["seconds"],
            prep["ours_warm"]["seconds"] < TARGETS["warm_prep_seconds_max"],
        ),
        "rss_growth": (ours["rss_growth"], ours["rss_growth"] <= TARGETS["rss_growth_max"]),
    }
    return {
        "ratios": ratio,
        "targets": {k: {"value": v, "met": ok} for k, (v, ok) in checks.items()},
    }


def table(ours: dict[str, Any], plain: dict[str, Any], ratios: dict[str, float]) -> str:
    """The side-by-side table, in Markdown (the README shows it)."""

    def row(label: str, key: str, fmt: str) -> str:
        r = ratios.get(key)
        return (
            f"| {label} | {format(ours[key], fmt)} | {format(plain[key], fmt)} | "
            f"{'' if r is None else f'{r:.2f}'} |"
        )

    lines = [
        "| figure | ours | plain | ours/plain |",
        "| --- | ---: | ---: | ---: |",
        row("total wall time, s (data prep + N trials)", "total_seconds", ".0f"),
        row("wall time per trial, s", "seconds_per_trial", ".1f"),
        row("best validation accuracy", "best_accuracy", ".4f"),
        row("padding efficiency (real / processed tokens)", "padding_efficiency", ".3f"),
        row("overhead per trial, s", "overhead_seconds_per_trial", ".2f"),
        row("overhead, share of trial time", "overhead_fraction", ".3f"),
        row("training samples/s (complete trials)", "train_samples_per_second", ".1f"),
        row("wall time per epoch, s (complete trials)", "seconds_per_epoch", ".1f"),
        f"| trials pruned | {ours['n_pruned']} of {ours['n_trials']} | "
        f"{plain['n_pruned']} of {plain['n_trials']} | |",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run both searches and the preparation timings; print and save the comparison."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default=str(REPO / "bench" / "search_speed.yaml"))
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "imdb"))
    p.add_argument("--n-trials", type=int, help="default: the config's study.n_trials")
    p.add_argument("--train", type=int, help="training reviews (default: the config's)")
    p.add_argument("--eval", type=int, help="validation reviews (default: the config's)")
    p.add_argument("--max-length", type=int, help="default: the config's data.max_length")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--out", default=str(REPO / "bench" / "results"))
    p.add_argument(
        "--workdir", help="keep studies, caches and checkpoints here; a new folder (default: temp)"
    )
    p.add_argument("--skip-prep", action="store_true", help="skip the 25k-review prep timing")
    p.add_argument("--role", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    p.add_argument("--role-out", help=argparse.SUPPRESS)
    opts = p.parse_args(argv)
    if opts.data and not Path(opts.data).exists():
        print(f"--data: {opts.data} does not exist; point it at the IMDb parquet folder.")
        return 2

    if opts.role:  # a child: one measurement, its result as JSON
        from hpo.errors import HpoError

        try:
            result = CHILDREN[opts.role](opts, Path(opts.workdir))
        except HpoError as exc:  # bad config or data: hpo's one-line message
            print(f"search_speed ({opts.role}): {exc}", file=sys.stderr)
            return 2
        Path(opts.role_out).write_text(json.dumps(result, default=str))
        return 0

    keep = opts.workdir is not None
    if keep:
        # A study left there would be resumed (ours) or refused (plain): not a fresh run.
        dbs = (f"{study}.db" for study in ("ours", "plain"))
        left = [db for db in dbs if (Path(opts.workdir) / db).exists()]
        if left:
            print(
                f"--workdir: {opts.workdir} holds {', '.join(left)} from an earlier run; "
                "pass an empty or new folder."
            )
            return 2
    workdir = Path(opts.workdir or tempfile.mkdtemp(prefix="hpo-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    passthrough = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--skip-prep"]
    try:
        ours_raw = _spawn("ours", passthrough, workdir)
        plain_raw = _spawn("plain", passthrough, workdir)
        prep: dict[str, Any] = {}
        if not opts.skip_prep:
            prep_dir = workdir / "prep"
            prep_argv = [*passthrough, "--workdir", str(prep_dir)]
            prep_dir.mkdir(exist_ok=True)
            prep["ours_cold"] = _spawn("prep", prep_argv, prep_dir)
            prep["ours_warm"] = _spawn("prep", prep_argv, prep_dir)
            prep["plain_cold"] = _spawn("prep-plain", prep_argv, prep_dir)
            prep["plain_warm"] = _spawn("prep-plain", prep_argv, prep_dir)
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)

    ours, plain = summarize(ours_raw), summarize(plain_raw)
    if not prep:  # --skip-prep: the warm-prep target has no figure
        prep = {"ours_warm": {"seconds": float("nan"), "skipped": True}}
    verdict = compare(ours, plain, prep)
    print()
    print(table(ours, plain, verdict["ratios"]))
    print()
    print("resident memory at the end of each trial, MiB (ours):", ours["rss_mb"])
    print("process high-water mark after each trial, MiB (ours):", ours["peak_rss_mb"])
    print(
        f"  every batch size has run by trial {ours['rss_settled_after_trial']}; "
        f"high-water growth since: {ours['rss_growth']:+.1%}"
    )
    print("resident memory at the end of each trial, MiB (plain):", plain["rss_mb"])
    print("trial wall times, s (ours): ", ours["trial_seconds"])
    print("trial wall times, s (plain):", plain["trial_seconds"])
    print(f"checkpoints written by the plain recipe: {plain_raw['checkpoints_written']}")
    print(f"precision: ours {ours_raw['precision']}, plain fp32 (TrainingArguments defaults)")
    for side, raw in (("ours", ours_raw), ("plain", plain_raw)):
        kernels = {
            loop: sorted({str(t[f"{loop}_attn_implementation"]) for t in raw["trials"]})
            for loop in ("train", "eval")
        }
        print(f"attention kernel ({side}): training {kernels['train']}, scoring {kernels['eval']}")
    masks = sorted({str(t["dropout_masks"]) for t in ours_raw["trials"]})
    print(f"dropout masks in training (ours): {masks}; plain: PyTorch's own")
    for key in ("ours_cold", "ours_warm", "plain_cold", "plain_warm"):
        if "reviews" in prep.get(key, {}):
            print(
                f"prepare {prep[key]['reviews']} training reviews, {key}: "
                f"{prep[key]['seconds']:.2f} s"
            )
    print()
    for name, t in verdict["targets"].items():
        if math.isnan(t["value"]):
            print(f"target {name}: not measured (--skip-prep)")
            continue
        print(f"target {name}: {t['value']:.4f} -> {'met' if t['met'] else 'NOT met'}")

    record = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "commit": _record.commit(),
        "machine": _record.machine(),
        "config": os.path.relpath(opts.config, REPO),
        "settings": ours_raw["settings"],
        "ours": ours | {"precision": ours_raw["precision"]},
        "plain": plain,
        "prep": prep,
        **verdict,
        "target_thresholds": TARGETS,
        "table": table(ours, plain, verdict["ratios"]),
        "trials": {"ours": ours_raw["trials"], "plain": plain_raw["trials"]},
    }
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{datetime.now(UTC):%Y-%m-%d}-{record['host']}.json"
    path.write_text(json.dumps(record, indent=1, default=str) + "\n")
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
