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

from hpo.errors import HpoError

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
    _add_config_args(p)
    p.add_argument("--n-trials", type=int, help="override study.n_trials (total for the study)")
    p.add_argument("--quiet", action="store_true", help="no progress bars, warnings only")

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


def _load(args: argparse.Namespace) -> Any:
    from hpo.config import load_config

    extra = {"n_trials": getattr(args, "n_trials", None)}
    return load_config(
        args.config, args.overrides, study_name=args.study_name, storage=args.storage, **extra
    )


def cmd_search(args: argparse.Namespace) -> int:
    """``hpo search``: run or resume the study, then print the best trial."""
    from hpo.search import run_search

    config = _load(args)
    if not args.quiet:
        print(config.to_yaml(), file=sys.stderr)
    study = run_search(config, quiet=args.quiet)
    where = f"study {config.study.name!r} in {config.storage_url}"
    try:
        best = study.best_trial
    except ValueError:  # every trial was pruned
        print(f"{where}: no trial completed (all pruned); see `hpo trials {args.config}`.")
        return 0
    print(f"{where}: best trial {best.number} accuracy={best.value:.4f} params={best.params}")
    return 0


def cmd_trials(args: argparse.Namespace) -> int:
    """``hpo trials``: print the study's trials as a table."""
    from hpo.report import trials_table
    from hpo.storage import load_existing_study

    config = _load(args)
    print(trials_table(load_existing_study(config)))
    return 0


def cmd_show_config(args: argparse.Namespace) -> int:
    """``hpo show-config``: print the resolved config as YAML."""
    print(_load(args).to_yaml(), end="")
    return 0


COMMANDS = {"search": cmd_search, "trials": cmd_trials, "show-config": cmd_show_config}


def _setup_logging(quiet: bool) -> None:
    level = logging.WARNING if quiet else logging.INFO
    logging.basicConfig(
        level=level, format="[%(levelname)s %(name)s] %(message)s", stream=sys.stderr
    )
    logging.getLogger("hpo").setLevel(level)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.INFO if not quiet else optuna.logging.WARNING)
    if quiet:
        import datasets
        import transformers

        datasets.disable_progress_bars()
        transformers.utils.logging.disable_progress_bar()
        transformers.utils.logging.set_verbosity_error()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hpo`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(getattr(args, "quiet", False))
    # Tokenizers' Rust thread pool warns (and can deadlock) if the process forks after use.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        return COMMANDS[args.command](args)
    except HpoError as exc:
        if args.debug:
            raise
        print(f"hpo: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(
            "hpo: interrupted. The running trial is marked FAILED and will be rerun; run the "
            "same command again to resume.",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
