"""The ``hpo`` command line: parse, call, and map :class:`HpoError` to one line and an exit code.

User errors print one line (``hpo: error: ...``) and exit 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from hpo.errors import HpoError, Interrupted
from hpo.logs import quiet_libraries, setup_logging
from hpo.threads import share_cores

logger = logging.getLogger("hpo")

EXIT_INTERRUPTED = 130


def _add_config_args(parser: argparse.ArgumentParser, *, study_overrides: bool = True) -> None:
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


def _add_search_args(parser: argparse.ArgumentParser) -> None:
    _add_config_args(parser)
    parser.add_argument(
        "--n-trials", type=int, help="override study.n_trials (total for the study)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars, warnings only")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for all subcommands."""
    parser = argparse.ArgumentParser(
        prog="hpo",
        description="Hyperparameter search for transformer text classifiers "
        "(Trainer.hyperparameter_search + Optuna).",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
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
        "storage: hpo worker CONFIG --storage postgresql://user:pass@host/db",
    )
    _add_search_args(p)

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
        "printing where the report is.",
    )
    _add_search_args(p)
    p.add_argument("--seeds", type=int, default=1, help="final retrain seeds (mean ± std)")
    p.add_argument(
        "--reference",
        "--with-reference",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also retrain the reference setup for the same epoch budget and seeds (default: "
        "on when the config has a reference section)",
    )

    p = sub.add_parser(
        "report",
        help="rebuild runs/<study>/report.md and its plots",
        description="Rebuild the report from the study and the final-stage results that exist.",
    )
    _add_config_args(p)

    p = sub.add_parser(
        "predict",
        help="label new reviews with a final model (one JSON line each)",
        description="Print {label, probability, text} as one JSON line per review, truncated "
        "the way the model was trained.",
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
        default=32,
        help="reviews per forward pass (default 32); lower it if memory is short",
    )

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
    return parser


def _load(args: argparse.Namespace, *, check_training: bool = True) -> Any:
    """The config named on the command line. ``check_training=False`` for commands that only
    read: the checks that import Transformers and torch are left to the commands that train."""
    from hpo.load import load_config

    extra = {"n_trials": getattr(args, "n_trials", None)}
    return load_config(
        args.config,
        args.overrides,
        check_training=check_training,
        study_name=args.study_name,
        storage=args.storage,
        **extra,
    )


def cmd_search(args: argparse.Namespace) -> int:
    """``hpo search``: run or resume the study, then print the best trial."""
    from hpo.search import run_search

    config = _load(args)
    if not args.quiet:
        print(config.to_yaml(), file=sys.stderr)
    workers = getattr(args, "workers", 1)
    if workers < 1:
        raise HpoError(f"--workers must be >= 1, got {workers}.")
    if workers > 1:
        from hpo.workers import search_with_workers

        study = search_with_workers(config, workers, quiet=args.quiet)
    else:
        study = run_search(config, quiet=args.quiet, worker=args.command == "worker")
    where = f"study {config.study.name!r} in {config.storage_url}"
    try:
        best = study.best_trial
    except ValueError:  # every trial was pruned
        print(f"{where}: no trial completed (all pruned); see `hpo trials {args.config}`.")
        return 0
    metric = config.study.metric
    print(f"{where}: best trial {best.number} {metric}={best.value:.4f} params={best.params}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """``hpo export``: best params with provenance, as YAML."""
    from hpo.export import export_best
    from hpo.layout import RunLayout
    from hpo.storage import load_existing_study

    config = _load(args, check_training=False)
    out = args.output or RunLayout.of(config).best_params
    doc = export_best(load_existing_study(config), config, out)
    prov = doc["provenance"]
    value = f"validation {prov['metric']} {prov['validation_value']:.4f}"
    print(f"trial {prov['trial_number']} ({value}, peak at epoch {prov['peak_epoch']}) -> {out}")
    return 0


def cmd_retrain(args: argparse.Namespace) -> int:
    """``hpo retrain``: the final stage for the best (or given, or reference) params."""
    from hpo.layout import RunLayout, model_dir
    from hpo.retrain import plan_from_file, plan_from_study, plan_reference, train_and_test

    config = _load(args)
    if args.seeds < 1:
        raise HpoError(f"--seeds must be >= 1, got {args.seeds}.")
    plan = plan_from_file(config, args.params) if args.params else plan_from_study(config)
    out = RunLayout.of(config).final
    if args.reference:
        plan, out = plan_reference(config, plan.stop_epoch), RunLayout.of(config).reference
    metrics = train_and_test(config, plan, out, seeds=args.seeds, quiet=args.quiet)
    spread = (
        f" (mean {metrics['test_accuracy_mean']:.4f} ± {metrics['test_accuracy_std']:.4f} "
        f"over {args.seeds} seeds)"
        if args.seeds > 1
        else ""
    )
    chosen = metrics["metric"]
    extra = f"; test {chosen} {metrics['metric_value']:.4f}" if chosen != "accuracy" else ""
    print(
        f"test accuracy {metrics['accuracy']:.4f} on {metrics['n']} examples{spread}; "
        f"95% CI {metrics['ci95'][0]:.4f}-{metrics['ci95'][1]:.4f}{extra}; model in "
        f"{model_dir(out)}"
    )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """``hpo run``: every stage; prints the report's path."""
    from hpo.pipeline import run_all

    config = _load(args)
    if args.seeds < 1:
        raise HpoError(f"--seeds must be >= 1, got {args.seeds}.")
    report = run_all(config, quiet=args.quiet, seeds=args.seeds, with_reference=args.reference)
    print(f"report: {report}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """``hpo report``: rebuild the report from what exists."""
    from hpo.pipeline import make_report

    print(f"report: {make_report(_load(args, check_training=False))}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """``hpo predict``: one JSON line per review."""
    import json

    from hpo.predict import final_info, predict, read_texts

    if args.batch_size < 1:
        raise HpoError(f"--batch-size must be >= 1, got {args.batch_size}.")
    texts: list[Any] = list(args.texts)
    if args.file:
        info = final_info(args.model_dir)
        column = args.text_column or info.get("text_column", "text")
        pair = args.pair_column or info.get("text_pair_column")
        texts += read_texts(args.file, text_column=column, pair_column=pair)
    for row in predict(args.model_dir, texts, batch_size=args.batch_size):
        print(json.dumps(row, ensure_ascii=False))
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    """``hpo dashboard``: attach what the final stage produced, then serve the dashboard."""
    from hpo.dashboard import attach_artifacts, final_stage_files, serve
    from hpo.storage import load_existing_study

    config = _load(args, check_training=False)
    study = load_existing_study(config)
    attach_artifacts(study, config, final_stage_files(config))
    print(
        f"optuna-dashboard for study {config.study.name!r} ({config.storage_url}): "
        f"http://{args.host}:{args.port}/dashboard  (Ctrl-C to stop)",
        flush=True,
    )
    serve(config, host=args.host, port=args.port)
    return 0


def cmd_trials(args: argparse.Namespace) -> int:
    """``hpo trials``: print the study's trials as a table."""
    from hpo.report import trials_table
    from hpo.storage import load_existing_study

    config = _load(args, check_training=False)
    print(trials_table(load_existing_study(config), config.study.metric))
    return 0


def cmd_show_config(args: argparse.Namespace) -> int:
    """``hpo show-config``: print the resolved config as YAML."""
    print(_load(args, check_training=False).to_yaml(), end="")
    return 0


COMMANDS = {
    "search": cmd_search,
    "worker": cmd_search,
    "trials": cmd_trials,
    "dashboard": cmd_dashboard,
    "export": cmd_export,
    "retrain": cmd_retrain,
    "run": cmd_run,
    "report": cmd_report,
    "predict": cmd_predict,
    "show-config": cmd_show_config,
}


#: Commands that import the training stack (and so Optuna's loggers are worth setting up).
_TRAINING_COMMANDS = frozenset({"search", "worker", "run", "retrain"})


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hpo`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # Before torch is imported: OpenMP threads that wait for work spin only briefly, so a
    # second job on the same cores is not starved (see hpo.threads).
    share_cores()
    quiet = getattr(args, "quiet", False)
    setup_logging(quiet)
    # Tokenizers' Rust thread pool warns (and can deadlock) if the process forks after use.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        if args.command in _TRAINING_COMMANDS:
            quiet_libraries(quiet, args.debug)
        return COMMANDS[args.command](args)
    except HpoError as exc:
        if args.debug:
            raise
        print(f"hpo: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        if args.debug:
            raise
        message = (
            str(exc)
            if isinstance(exc, Interrupted)
            else ("interrupted; finished trials are kept: run the same command again to resume.")
        )
        print(f"hpo: {message}", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
