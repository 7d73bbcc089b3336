"""The ``hpo`` commands: one function per subcommand, each one call into :mod:`hpo.api` and
the printing of what it returns. Nothing here decides or computes: a fix made in the API
reaches the command line and the notebook alike. The API imports each stage inside the call, so
``hpo --help``, ``show-config`` and ``trials`` never load torch or Transformers.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from hpo import api
from hpo.errors import HpoError

logger = logging.getLogger("hpo")


def _load(args: argparse.Namespace, *, check_training: bool = True) -> Any:
    """The config named on the command line. ``check_training=False`` for commands that only
    read: the checks that import Transformers and torch are left to the commands that train."""
    from hpo.config.budget import parse_budget
    from hpo.errors import ConfigError

    if getattr(args, "budget", None) is not None:
        try:  # a flag's error names the flag, not the config file
            parse_budget(args.budget, where="--budget")
        except ConfigError as exc:
            raise HpoError(str(exc)) from None
    extra = {"n_trials": getattr(args, "n_trials", None)}
    extra |= {key: getattr(args, key, None) for key in ("budget", "data", "model")}
    extra["workers"] = getattr(args, "plan_workers", None)
    return api.load_config(
        args.config,
        args.overrides,
        check_training=check_training,
        study_name=args.study_name,
        storage=args.storage,
        **extra,
    )


def cmd_search(args: argparse.Namespace) -> int:
    """``hpo search``: run or resume the study, then print the best trial."""
    config = _load(args)
    if not args.quiet:
        print(config.to_yaml(), file=sys.stderr)
    study = api.run_search(
        config,
        workers=getattr(args, "workers", 1),
        quiet=args.quiet,
        worker=args.command == "worker",
    )
    where = f"study {config.study.name!r} in {config.storage_url}"
    try:
        best = study.best_trial
    except ValueError:  # every trial was pruned, or a budget's share left none to run
        why = "all pruned" if study.trials else "none ran"
        print(f"{where}: no trial completed ({why}); see `hpo trials {args.config}`.")
        return 0
    metric = config.study.metric
    print(
        f"{where}: best trial {best.number} validation {metric}={best.value:.4f} (the maximum "
        f"over trials) params={best.params}"
    )
    return 0


def cmd_launch(args: argparse.Namespace) -> int:
    """``hpo launch slurm``: prepare the study, write the job array and submit it."""
    from sqlalchemy.engine import make_url

    from hpo.search.launch import SlurmJob

    job = SlurmJob(
        workers=args.workers,
        cpus_per_worker=args.cpus_per_worker,
        gpus_per_worker=args.gpus_per_worker,
        partition=args.partition,
        time=args.time,
        max_parallel=args.max_parallel,
        sbatch_args=tuple(args.sbatch_args),
    )
    config = _load(args)
    done = api.launch_slurm(config, job, dry_run=args.dry_run)
    where = make_url(config.storage_url).render_as_string(hide_password=True)
    script, job_id, final = done.script, done.job_id, done.final_script
    saved = script.parent.parent / "config.yaml"
    if job_id is None:
        if final is None:
            print(f"wrote {script} (not submitted); submit it with: sbatch {script}")
        else:
            print(
                f"wrote {script} and {final} (not submitted); submit them with:\n"
                f"  jid=$(sbatch --parsable {script}) && "
                f"sbatch --dependency=afterany:$jid {final}"
            )
        return 0
    jobs = job_id if final is None else f"{job_id},{done.final_job_id}"
    lines = [
        f"submitted job {job_id}: {args.workers} worker task(s) on study {config.study.name!r} "
        f"in {where}"
    ]
    if final is not None:
        lines.append(
            f"submitted job {done.final_job_id}: the final stage and report after it, within "
            f"the budget of {config.study.budget} counted from when task 0 starts"
        )
    lines += [
        f"  script:  {script}" + (f"  {final}" if final else ""),
        f"  logs:    {script.parent / 'logs'}/{job_id}_<task>.out",
        f"  watch:   hpo trials {saved}   |   squeue -j {jobs}",
        f"  stop:    scancel {jobs.replace(',', ' ')}   (running trials are rerun when "
        "workers start again)",
    ]
    if final is not None:
        lines.append(f"  report:  {saved.parent / 'report.md'} once job {done.final_job_id} ends")
    print("\n".join(lines))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """``hpo export``: best params with provenance, as YAML."""
    from hpo.runs import RunLayout

    config = _load(args, check_training=False)
    out = args.output or RunLayout(config.output_dir).best_params
    doc = api.export_best_params(config, out)
    prov = doc["provenance"]
    value = f"validation {prov['metric']} {prov['validation_value']:.4f}"
    print(f"trial {prov['trial_number']} ({value}, peak at epoch {prov['peak_epoch']}) -> {out}")
    return 0


def cmd_retrain(args: argparse.Namespace) -> int:
    """``hpo retrain``: the final stage for the best (or given, or reference) params."""
    from hpo.runs import RunLayout, model_dir

    config = _load(args)
    metrics = api.retrain(
        config,
        params=args.params,
        reference=args.reference,
        seeds=args.seeds,
        quiet=args.quiet,
    )
    layout = RunLayout(config.output_dir)
    out = layout.reference if args.reference else layout.final
    spread = (
        f" (mean {metrics.test_accuracy_mean:.4f} ± {metrics.test_accuracy_std:.4f} "
        f"over {args.seeds} seeds)"
        if args.seeds > 1
        else ""
    )
    chosen = metrics.metric
    extra = f"; test {chosen} {metrics.metric_value:.4f}" if chosen != "accuracy" else ""
    print(
        f"test accuracy {metrics.accuracy:.4f} on {metrics.n} examples{spread}; "
        f"95% CI {metrics.ci95[0]:.4f}-{metrics.ci95[1]:.4f}{extra}; model in "
        f"{model_dir(out)}"
    )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """``hpo run``: every stage (planned first with a budget); prints the report's path."""
    config = _load(args)
    done = api.run(
        config,
        quiet=args.quiet,
        seeds=args.seeds,
        with_reference=args.reference,
        started=getattr(args, "started", None),
        on_plan=None if args.quiet else _print_plan,
        part=args.part,
    )
    if args.part == "search":
        print(f"search part done (plan: {done}); the final part goes on from the study")
    else:
        print(f"report: {done}")
    return 0


def _print_plan(plan: Any) -> None:
    from hpo.plan.table import render_plan

    print(render_plan(plan.to_dict()), file=sys.stderr, flush=True)


def cmd_plan(args: argparse.Namespace) -> int:
    """``hpo plan``: the plan for a budget, printed; nothing trained."""
    from hpo.plan.table import render_plan

    plan = api.plan_budget(_load(args), with_reference=args.reference)
    print(render_plan(plan.to_dict()))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """``hpo report``: rebuild the report from what exists."""
    print(f"report: {api.make_report(_load(args, check_training=False))}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """``hpo predict``: one JSON line per text (or pair)."""
    import json

    texts: list[Any] = list(args.texts)
    if args.file:
        texts += api.read_texts(
            args.file, args.model_dir, text_column=args.text_column, pair_column=args.pair_column
        )
    for row in api.predict(args.model_dir, texts, batch_size=args.batch_size, fast=args.fast):
        print(json.dumps(row, ensure_ascii=False))
    return 0


def cmd_quantize(args: argparse.Namespace) -> int:
    """``hpo quantize``: the int8 OpenVINO model of a final model folder, for ``predict --fast``."""
    path, made = api.quantize(
        args.model_dir,
        calibrate=args.calibrate,
        text_column=args.text_column,
        pair_column=args.pair_column,
    )
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
    config = _load(args, check_training=False)

    def ready() -> None:
        print(
            f"optuna-dashboard for study {config.study.name!r} ({config.storage_url}): "
            f"http://{args.host}:{args.port}/dashboard  (Ctrl-C to stop)",
            flush=True,
        )

    api.dashboard(config, host=args.host, port=args.port, on_ready=ready)
    return 0


def cmd_trials(args: argparse.Namespace) -> int:
    """``hpo trials``: print the study's trials as a table."""
    print(api.trials_table(_load(args, check_training=False)))
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
