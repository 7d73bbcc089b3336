"""The ``hpo`` entry point: parse, call the command, and map :class:`HpoError` to one line and
an exit code.

User errors print one line (``hpo: error: ...``) and exit 2; ``--debug`` shows the traceback;
Ctrl-C exits 130 with one line that says how to resume.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Sequence

from hpo.cli.commands import COMMANDS
from hpo.cli.console import quiet_libraries, setup_logging
from hpo.cli.parser import build_parser
from hpo.cli.threads import share_cores
from hpo.errors import DiskFull, HpoError, Interrupted, config_source

EXIT_INTERRUPTED = 130

#: Commands that run trials: SIGTERM (scancel, a preempted Slurm task, a stopped container)
#: is handled as Ctrl-C, so the running trial is failed and its params queued at once instead
#: of waiting out the grace period.
_TRIAL_COMMANDS = frozenset({"search", "worker", "run"})

#: Commands that import the training stack (and so Optuna's loggers are worth setting up).
_TRAINING_COMMANDS = frozenset({"search", "worker", "run", "retrain", "plan", "launch"})


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hpo`` console script; returns the exit code."""
    # A budget (hpo run --budget) counts from here: before anything heavy is imported.
    started = time.time()
    parser = build_parser()
    args = parser.parse_args(argv)
    args.started = started
    # Before torch is imported: OpenMP threads that wait for work spin only briefly, so a
    # second job on the same cores is not starved (see hpo.cli.threads).
    share_cores()
    quiet = getattr(args, "quiet", False)
    setup_logging(quiet)
    # Tokenizers' Rust thread pool warns (and can deadlock) if the process forks after use.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    on_term = signal.getsignal(signal.SIGTERM)
    if args.command in _TRIAL_COMMANDS:
        signal.signal(signal.SIGTERM, _terminated)
    try:
        if args.command in _TRAINING_COMMANDS:
            quiet_libraries(quiet, args.debug)
        # A config error raised after loading (a metric the data cannot have, an argument
        # TrainingArguments refuses) names the config file too.
        config = getattr(args, "config", None)
        with config_source(config) if config else contextlib.nullcontext():
            return COMMANDS[args.command](args)
    except HpoError as exc:
        if args.debug:
            raise
        print(f"hpo: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        full = DiskFull.caused(exc)
        if full is None or args.debug:
            raise
        print(
            f"hpo: error: {DiskFull.says(full)}: free space "
            "there, or point the output (training.output_dir) at a disk with room, and run the "
            "same command again; finished trials are kept.",
            file=sys.stderr,
        )
        return DiskFull.exit_code
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
    finally:
        signal.signal(signal.SIGTERM, on_term)


def _terminated(signum: int, frame: object) -> None:
    raise KeyboardInterrupt("terminated by SIGTERM (scancel, preemption or kill)")
