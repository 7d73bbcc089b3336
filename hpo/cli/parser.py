"""The ``hpo`` argument parser: one subcommand per stage, each with its flags and help."""

from __future__ import annotations

import argparse
from typing import Any


def _add_config_args(
    parser: argparse.ArgumentParser, *, study_overrides: bool = True, optional: bool = False
) -> None:
    if optional:
        parser.add_argument(
            "config",
            nargs="?",
            help="study YAML, e.g. study_configs/smoke.yaml (default: the packaged default "
            "config, with --data)",
        )
    else:
        parser.add_argument("config", help="study YAML, e.g. study_configs/smoke.yaml")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set data.path=../shared/data/imdb "
        "(repeatable; the value is read as YAML)",
    )
    if study_overrides:
        parser.add_argument("--study-name", help="override study.name")
        parser.add_argument("--storage", help="override study.storage (an Optuna storage URL)")


def _add_budget_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--budget",
        help="wall-clock budget of the whole job, e.g. 45m, 1h30m, 90s (sets study.budget): "
        "hpo plans what the config leaves open to fit it, and keeps it",
    )
    parser.add_argument(
        "--data",
        help="a folder (or file) of examples: train.* with optional validation.* and test.* "
        "(parquet, csv, tsv, jsonl); sets data.path, and with no config uses the default one",
    )
    parser.add_argument(
        "--model", help="the backbone: a hub id or a local folder (sets model.name)"
    )


def _add_search_args(parser: argparse.ArgumentParser, *, optional: bool = False) -> None:
    _add_config_args(parser, optional=optional)
    parser.add_argument(
        "--n-trials", type=int, help="override study.n_trials (total for the study)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars, warnings only")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("hpo-tune")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for all subcommands."""
    return _build()[0]


def command_parsers() -> dict[str, argparse.ArgumentParser]:
    """Each subcommand's own parser, by name, in the order ``hpo --help`` lists them (the docs
    site's command reference prints their help)."""
    return dict(_build()[1].choices)


def _build() -> tuple[argparse.ArgumentParser, Any]:
    parser = argparse.ArgumentParser(
        prog="hpo",
        description="Hyperparameter search for transformer text classifiers "
        "(Trainer.hyperparameter_search + Optuna).",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    parser.add_argument("--version", action="version", version=f"hpo {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "search",
        help="run (or resume) the search of a study",
        description="Run trials until the study has study.n_trials finished "
        "trials. Running it again resumes the same study.",
    )
    _add_search_args(p)
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes on this machine, all on the one study (one GPU each if there "
        "are GPUs, else an even share of the CPU threads)",
    )

    p = sub.add_parser(
        "worker",
        help="join a study as one more worker (any machine, shared storage)",
        description="Run trials of the study in the given storage until it has study.n_trials "
        "finished trials, alongside any other workers. For many machines, use a PostgreSQL "
        "storage: hpo worker CONFIG --storage postgresql://user:pass@host/db. On a study that "
        "`hpo run --budget` started, it keeps the deadline stored on the study: it starts no "
        "trial that cannot finish in the search's share, and exits once the share has ended.",
    )
    _add_search_args(p)
    p.add_argument(
        "--budget",
        help="the budget the study was started with (a check: a worker keeps the deadline "
        "stored on the study and brings none of its own; a different one is refused)",
    )

    p = sub.add_parser(
        "launch",
        help="start workers on a scheduler: a Slurm job array of `hpo worker` tasks",
        description="Create the study and the tokenization cache, write a job-array script to "
        "runs/<study>/slurm/worker.sbatch that runs `hpo worker` on the study's saved config in "
        "each task (logs in runs/<study>/slurm/logs/), submit it with sbatch, and print the "
        "commands to watch and stop it. A task exits 0 once the study is full; a requeued task "
        "resumes. The storage must be a database server every node reaches: "
        "--storage postgresql://user:pass@host/db",
    )
    p.add_argument("scheduler", choices=["slurm"], help="the scheduler (slurm)")
    _add_config_args(p)
    p.add_argument("--workers", type=int, required=True, help="array tasks (one worker each)")
    p.add_argument("--cpus-per-worker", type=int, default=1, help="CPU cores per task")
    p.add_argument("--gpus-per-worker", type=int, default=0, help="GPUs per task (--gres=gpu:N)")
    p.add_argument("--partition", help="Slurm partition")
    p.add_argument("--time", help="time limit per task, e.g. 2:00:00")
    p.add_argument("--max-parallel", type=int, help="tasks running at once (--array=...%%N)")
    p.add_argument(
        "--sbatch-arg",
        dest="sbatch_args",
        action="append",
        default=[],
        metavar="ARG",
        help="one more sbatch option, e.g. --sbatch-arg=--account=lab (repeatable)",
    )
    p.add_argument(
        "--budget",
        help="the whole job's wall-clock budget, e.g. 2h (sets study.budget): task 0 plans the "
        "search for --workers trials at once on its compute node and owns the deadline, and a "
        "final job after the array (--dependency=afterany) trains the final model and writes "
        "the report, all within the budget counted from task 0's start",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="write the script(s) (and config) only; submit nothing",
    )

    p = sub.add_parser(
        "export",
        help="write the best trial's params (with provenance) as YAML",
        description="Write study.best_trial.params with provenance (study, trial, validation "
        "accuracy, model, data fingerprint, split seed, training settings, versions, "
        "hardware, date) to a YAML file that `hpo retrain --params` takes back.",
    )
    _add_config_args(p)
    p.add_argument("-o", "--output", help="file to write (default runs/<study>/best_params.yaml)")

    p = sub.add_parser(
        "retrain",
        help="train the best params on the whole training split and test once",
        description="Train with the best trial's params (from the study, or --params FILE) on "
        "train + validation, stop at the epoch where the best trial peaked, and score the test "
        "split once. Writes runs/<study>/final/{model,metrics.json}.",
    )
    _add_config_args(p)
    p.add_argument("--params", help="params YAML written by `hpo export` (default: the study)")
    p.add_argument("--seeds", type=int, default=1, help="train K times; report mean ± std")
    p.add_argument(
        "--reference",
        action="store_true",
        help="train the reference setup instead, for the same epoch budget "
        "(writes runs/<study>/reference/)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars, warnings only")

    p = sub.add_parser(
        "run",
        help="search -> export -> retrain -> baselines -> report, each stage resumable",
        description="The whole job. A finished stage is not done again; the command ends by "
        "printing where the report is. With --budget, the job is planned to fit it first "
        "(see `hpo plan`); `hpo run --data DIR --budget 30m` needs no config.",
    )
    _add_search_args(p, optional=True)
    _add_budget_args(p)
    p.add_argument("--seeds", type=int, default=1, help="final retrain seeds (mean ± std)")
    p.add_argument(
        "--reference",
        "--with-reference",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also retrain the reference setup for the same epoch budget and seeds (default: "
        "on when the config has a reference section and there is no --budget)",
    )
    p.add_argument(
        "--part",
        choices=["search", "final"],
        help="one part of a budgeted job run in two processes, as `hpo launch slurm --budget` "
        "does: `search` plans on this machine and runs the search, storing when the budget "
        "began on the study; `final` goes on from the study (same plan, same start) with the "
        "final stage, baselines and report",
    )

    p = sub.add_parser(
        "plan",
        help="print the plan that fits a budget; trains nothing",
        description="Profile the data, measure this machine (a few training steps, cached) and "
        "print what `hpo run --budget` would decide: each key and who set it, and each stage's "
        "planned minutes. Nothing is trained or written outside the cache.",
    )
    _add_config_args(p, optional=True)
    _add_budget_args(p)
    p.add_argument(
        "--reference",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="plan the reference setup's retrain too",
    )
    p.add_argument(
        "--workers",
        dest="plan_workers",
        type=int,
        help="plan the search for N trials at once: this process and N-1 `hpo worker`s that "
        "join it, on machines like this one (sets study.workers)",
    )

    p = sub.add_parser(
        "report",
        help="rebuild runs/<study>/report.md and its plots",
        description="Rebuild the report from the study and the final-stage results that exist.",
    )
    _add_config_args(p)

    p = sub.add_parser(
        "predict",
        help="label new texts with a final model (one JSON line each)",
        description="Print {label, probability, text} as one JSON line per text (or pair), "
        "truncated the way the model was trained.",
    )
    p.add_argument(
        "model_dir", help="a model folder written by hpo retrain (runs/<study>/final/model)"
    )
    p.add_argument("texts", nargs="*", help="texts to label")
    p.add_argument(
        "--file",
        help="read texts from FILE: .csv, .tsv, .jsonl or .parquet by their text column (and "
        "pair column, for a text-pair model); .txt (or any other) one per line; '-' reads "
        "standard input, one per line",
    )
    for flag, key in (("--text-column", "text_column"), ("--pair-column", "text_pair_column")):
        p.add_argument(flag, help=f"the column of --file (default: data.{key} of the model)")
    p.add_argument(
        "--batch-size",
        type=int,
        help="texts per forward pass (default 32, 16 with --fast); lower it if memory is short",
    )
    p.add_argument(
        "--fast",
        action="store_true",
        help="score with the int8 model `hpo quantize MODEL_DIR` wrote (OpenVINO, all "
        "cores): faster on a CPU, its accuracy measured in bench/predict_speed.py",
    )

    p = sub.add_parser(
        "quantize",
        help="write the int8 model that `hpo predict --fast` scores with",
        description="Export a final model to ONNX, check that OpenVINO computes PyTorch's "
        "logits from it, quantize it to int8 with NNCF and write MODEL_DIR/openvino/. "
        "Without --calibrate the weights only (activations are quantized as they come); "
        "with it every matrix product, on ranges measured on the file's texts. Needs the "
        "fast extra: pip install 'hpo-tune[fast]'.",
    )
    p.add_argument(
        "model_dir", help="a model folder written by hpo retrain (runs/<study>/final/model)"
    )
    p.add_argument(
        "--calibrate",
        metavar="FILE",
        help="texts like the ones to be scored, read as --file of hpo predict reads them "
        "(your training file; never the test split): calibrates on the first 300, reports "
        "the int8 model's agreement with the fp32 one on the next 300",
    )
    for flag, key in (("--text-column", "text_column"), ("--pair-column", "text_pair_column")):
        p.add_argument(flag, help=f"the column of --calibrate (default: data.{key} of the model)")

    p = sub.add_parser(
        "dashboard",
        help="browse the study in optuna-dashboard",
        description="Start optuna-dashboard on the study's storage and artifact store. It can "
        "run while a search writes to the same storage.",
    )
    _add_config_args(p)
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default loopback only; 0.0.0.0 exposes it)",
    )
    p.add_argument("--port", type=int, default=8080, help="port (default 8080)")

    p = sub.add_parser(
        "trials",
        help="table of a study's trials",
        description="Number, state, accuracy, params and duration of each trial.",
    )
    _add_config_args(p)

    p = sub.add_parser(
        "show-config",
        help="print the resolved config",
        description="Print the config after defaults and --set overrides.",
    )
    _add_config_args(p)
    return parser, sub
