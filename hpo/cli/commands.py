"""The ``hpo`` commands: one function per subcommand, each a thin call into a stage.

Each imports its stage inside the function, so ``hpo --help``, ``show-config`` and ``trials``
never load torch or Transformers.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from hpo.errors import HpoError

logger = logging.getLogger("hpo")


def _load(args: argparse.Namespace, *, check_training: bool = True) -> Any:
    """The config named on the command line. ``check_training=False`` for commands that only
    read: the checks that import Transformers and torch are left to the commands that train."""
    from hpo.api import load_config
    from hpo.config.budget import parse_budget
    from hpo.errors import ConfigError

    if getattr(args, "budget", None) is not None:
        try:  # a flag's error names the flag, not the config file
            parse_budget(args.budget, where="--budget")
        except ConfigError as exc:
            raise HpoError(str(exc)) from None
    extra = {"n_trials": getattr(args, "n_trials", None)}
    extra |= {key: getattr(args, key, None) for key in ("budget", "data", "model")}
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
    from hpo.search.loop import run_search

    config = _load(args)
    if not args.quiet:
        print(config.to_yaml(), file=sys.stderr)
    workers = getattr(args, "workers", 1)
    if workers < 1:
        raise HpoError(f"--workers must be >= 1, got {workers}.")
    if workers > 1:
        from hpo.search.workers import search_with_workers

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


def cmd_launch(args: argparse.Namespace) -> int:
    """``hpo.search.launch``: prepare the study, write the job array and submit it."""
    from hpo.search.launch import SlurmJob, launch

    job = SlurmJob(
        workers=args.workers,
        cpus_per_worker=args.cpus_per_worker,
        gpus_per_worker=args.gpus_per_worker,
        partition=args.partition,
        time=args.time,
        max_parallel=args.max_parallel,
        sbatch_args=tuple(args.sbatch_args),
    )
    from sqlalchemy.engine import make_url

    config = _load(args)
    script, job_id = launch(config, job, dry_run=args.dry_run)
    where = make_url(config.storage_url).render_as_string(hide_password=True)
    saved = script.parent.parent / "config.yaml"
    if job_id is None:
        print(f"wrote {script} (not submitted); submit it with: sbatch {script}")
        return 0
    print(
        f"submitted job {job_id}: {args.workers} worker task(s) on study {config.study.name!r} "
        f"in {where}\n"
        f"  script:  {script}\n"
        f"  logs:    {script.parent / 'logs'}/{job_id}_<task>.out\n"
        f"  watch:   hpo trials {saved}   |   squeue -j {job_id}\n"
        f"  stop:    scancel {job_id}   (running trials are rerun when workers start again)"
    )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """``hpo export``: best params with provenance, as YAML."""
    from hpo.final.best_params import export_best
    from hpo.runs import RunLayout
    from hpo.search.storage import load_existing_study

    config = _load(args, check_training=False)
    out = args.output or RunLayout.of(config).best_params
    doc = export_best(load_existing_study(config), config, out)
    prov = doc["provenance"]
    value = f"validation {prov['metric']} {prov['validation_value']:.4f}"
    print(f"trial {prov['trial_number']} ({value}, peak at epoch {prov['peak_epoch']}) -> {out}")
    return 0


def cmd_retrain(args: argparse.Namespace) -> int:
    """``hpo retrain``: the final stage for the best (or given, or reference) params."""
    from hpo.final.retrain import plan_from_file, plan_from_study, plan_reference, train_and_test
    from hpo.runs import RunLayout, model_dir

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
    """``hpo run``: every stage (planned first with a budget); prints the report's path."""
    import time

    from hpo.pipeline import run_all

    started = getattr(args, "started", None) or time.time()
    config = _load(args)
    if args.seeds < 1:
        raise HpoError(f"--seeds must be >= 1, got {args.seeds}.")
    report = run_all(
        config,
        quiet=args.quiet,
        seeds=args.seeds,
        with_reference=args.reference,
        started=started,
        on_plan=None if args.quiet else _print_plan,
    )
    print(f"report: {report}")
    return 0


def _print_plan(plan: Any) -> None:
    from hpo.plan.table import render_plan

    print(render_plan(plan.to_dict()), file=sys.stderr, flush=True)


def cmd_plan(args: argparse.Namespace) -> int:
    """``hpo plan``: the plan for a budget, printed; nothing trained."""
    from hpo.plan.budgeted import plan_budget
    from hpo.plan.table import render_plan
    from hpo.runs import RunLayout

    config = _load(args)
    if config.study.budget is None:
        raise HpoError(
            "hpo plan needs a budget: pass --budget (e.g. --budget 45m) or set study.budget."
        )
    saved = RunLayout.of(config).plan
    _, plan, _ = plan_budget(config, with_reference=args.reference, saved=saved)
    print(render_plan(plan.to_dict()))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """``hpo report``: rebuild the report from what exists."""
    from hpo.report.markdown import make_report

    print(f"report: {make_report(_load(args, check_training=False))}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """``hpo predict``: one JSON line per review."""
    import json

    from hpo.final.predict import model_record, predict, read_texts

    if args.batch_size is not None and args.batch_size < 1:
        raise HpoError(f"--batch-size must be >= 1, got {args.batch_size}.")
    texts: list[Any] = list(args.texts)
    if args.file:
        record = model_record(args.model_dir)
        column = args.text_column or record.text_column
        pair = args.pair_column or record.text_pair_column
        texts += read_texts(args.file, text_column=column, pair_column=pair)
    for row in predict(args.model_dir, texts, batch_size=args.batch_size, fast=args.fast):
        print(json.dumps(row, ensure_ascii=False))
    return 0


def cmd_quantize(args: argparse.Namespace) -> int:
    """``hpo quantize``: the int8 OpenVINO model of a final model folder, for ``predict --fast``."""
    import json

    from hpo.data.truncation import encode
    from hpo.final.fast import CALIBRATION_TEXTS, FAST_RECORD, quantize
    from hpo.final.predict import model_record, read_texts

    record = model_record(args.model_dir)  # a model folder, or the one-line error
    calibration = None
    if args.calibrate:
        from transformers import AutoTokenizer

        column = args.text_column or record.text_column
        pair = args.pair_column or record.text_pair_column
        texts = read_texts(args.calibrate, text_column=column, pair_column=pair, command="quantize")
        texts = texts[: 2 * CALIBRATION_TEXTS]
        if not texts:
            raise HpoError(f"quantize: --calibrate {args.calibrate} has no texts.")
        tokenizer = AutoTokenizer.from_pretrained(str(args.model_dir))
        calibration = encode(
            tokenizer,
            [t[0] if isinstance(t, tuple) else t for t in texts],
            [t[1] for t in texts] if pair else None,
            max_length=record.max_length,
            truncation=record.truncation,
            head_fraction=record.head_fraction,
        )
    path = quantize(args.model_dir, calibration=calibration)
    made = json.loads((path.parent / FAST_RECORD).read_text())
    if "agreement" in made:
        print(
            f"int8 agrees with the fp32 model on {made['agreement']:.2%} of "
            f"{made['held_out_texts']} texts of {args.calibrate} it was not calibrated on"
        )
    elif args.calibrate:
        print(
            f"{args.calibrate} has no texts past the {made['calibration_texts']} calibrated on: "
            "the int8 model's agreement with the fp32 one is not measured (give more texts)"
        )
    print(f"wrote {path}; score with: hpo predict --fast {args.model_dir} ...")
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    """``hpo dashboard``: attach what the final stage produced, then serve the dashboard."""
    from hpo.report.dashboard import attach_artifacts, final_stage_files, serve
    from hpo.runs import RunLayout
    from hpo.search.storage import load_existing_study

    config = _load(args, check_training=False)
    study = load_existing_study(config)
    layout = RunLayout.of(config)
    attach_artifacts(study, layout.artifacts, final_stage_files(layout))
    print(
        f"optuna-dashboard for study {config.study.name!r} ({config.storage_url}): "
        f"http://{args.host}:{args.port}/dashboard  (Ctrl-C to stop)",
        flush=True,
    )
    serve(config.storage_url, layout.artifacts, host=args.host, port=args.port)
    return 0


def cmd_trials(args: argparse.Namespace) -> int:
    """``hpo trials``: print the study's trials as a table."""
    from hpo.report.trials_table import trials_table
    from hpo.search.storage import load_existing_study

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
    "launch": cmd_launch,
    "trials": cmd_trials,
    "dashboard": cmd_dashboard,
    "export": cmd_export,
    "retrain": cmd_retrain,
    "run": cmd_run,
    "plan": cmd_plan,
    "quantize": cmd_quantize,
    "report": cmd_report,
    "predict": cmd_predict,
    "show-config": cmd_show_config,
}
