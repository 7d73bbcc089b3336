"""What `bench/gpu_check.sh` needs on a GPU machine that reaches no hub and no registry, and
what it leaves.

``pack``: a labelled subset of a data set stored as token ids (uint16 when the vocabulary fits,
with the tokenizer that made them) and the backbone's weights in fp16, in one folder of at most
64 MiB (what the device tool carries)::

    python bench/gpu_data.py pack --data ../shared/data/imdb --out /tmp/gpu-pack

``unpack``: the texts again (decoded from the ids) as ``data/{train,test}.parquet`` and the
model in fp32, in a working folder. ``summarize``: the check's record in ``bench/results/``:
the plan, the measured rates, samples per second, peak device memory per trial and the planned
against actual minutes of every stage.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path
from typing import Any

from _record import write

#: What the device tool carries at most.
MAX_PACK_BYTES = 64 * 2**20


def _read(data: Path, split: str, text: str, label: str) -> Any:
    import pandas as pd

    readers = {
        ".parquet": pd.read_parquet,
        ".csv": pd.read_csv,
        ".jsonl": lambda path: pd.read_json(path, lines=True),
    }
    for suffix, reader in readers.items():
        path = data / f"{split}{suffix}"
        if path.is_file():
            return reader(path)[[text, label]].rename(columns={text: "text", label: "label"})
    raise SystemExit(f"gpu_data: no {split}.parquet, .csv or .jsonl in {data}")


def pack(args: argparse.Namespace) -> int:
    """Write the pack: ``ids.npz`` (token ids, offsets, labels per split), ``tokenizer/``,
    ``model/`` (fp16) and ``pack.json``."""
    import numpy as np
    import torch
    from transformers import AutoModel, AutoTokenizer

    from hpo.train.model import resolve

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    source = resolve(args.model)
    tokenizer = AutoTokenizer.from_pretrained(source)
    dtype = np.uint16 if len(tokenizer) <= 2**16 else np.int32
    arrays: dict[str, Any] = {}
    counts = {}
    for split, n in (("train", args.train), ("test", args.test)):
        frame = _read(Path(args.data), split, args.text_column, args.label_column)
        frame = frame.sample(n=min(n, len(frame)), random_state=args.seed)
        encoded = tokenizer(
            list(frame["text"]),
            truncation=True,
            max_length=args.max_length,
            add_special_tokens=False,
        )["input_ids"]
        arrays[f"{split}_ids"] = np.concatenate([np.asarray(x, dtype=dtype) for x in encoded])
        arrays[f"{split}_offsets"] = np.cumsum([0, *map(len, encoded)]).astype(np.int64)
        arrays[f"{split}_labels"] = np.asarray(frame["label"])
        counts[split] = len(frame)
    np.savez_compressed(out / "ids.npz", **arrays)
    tokenizer.save_pretrained(out / "tokenizer")
    AutoModel.from_pretrained(source, dtype=torch.float16).save_pretrained(out / "model")
    record = {"data": str(args.data), "model": args.model, "examples": counts}
    record |= {"max_length": args.max_length, "seed": args.seed}
    (out / "pack.json").write_text(json.dumps(record, indent=1) + "\n")
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {out}: {size / 2**20:.1f} MiB ({counts})")
    if size > MAX_PACK_BYTES:
        print(f"gpu_data: the pack is over {MAX_PACK_BYTES // 2**20} MiB; pass smaller --train")
        return 1
    return 0


def unpack(args: argparse.Namespace) -> int:
    """Write ``data/{train,test}.parquet`` (texts decoded from the ids) and ``model/`` (fp32,
    with the pack's tokenizer) under ``args.work``."""
    import numpy as np
    import pandas as pd
    import torch
    from transformers import AutoModel, AutoTokenizer

    pack_dir, work = Path(args.pack), Path(args.work)
    tokenizer = AutoTokenizer.from_pretrained(pack_dir / "tokenizer")
    arrays = np.load(pack_dir / "ids.npz")
    (work / "data").mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        ids, offsets = arrays[f"{split}_ids"], arrays[f"{split}_offsets"]
        texts = tokenizer.batch_decode(
            [ids[a:b].tolist() for a, b in itertools.pairwise(offsets)],
            skip_special_tokens=True,
        )
        frame = pd.DataFrame({"text": texts, "label": arrays[f"{split}_labels"]})
        frame.to_parquet(work / "data" / f"{split}.parquet")
    model = AutoModel.from_pretrained(pack_dir / "model", dtype=torch.float32)
    model.save_pretrained(work / "model")
    tokenizer.save_pretrained(work / "model")
    print(f"unpacked {pack_dir} into {work}")
    return 0


def summarize(args: argparse.Namespace) -> int:
    """The check's record from the run's ``plan.json`` and study: in ``args.out``."""
    import optuna

    from hpo.final.metrics import FinalMetrics
    from hpo.train.trial_record import TrialRecord

    run = Path(args.run)
    plan = json.loads((run / "plan.json").read_text())
    machine = plan.get("machine", {})
    rates = machine.get("train_seconds_per_example", {})
    trials = []
    storage = args.storage
    if storage:
        for name in optuna.get_all_study_names(storage):
            study = optuna.load_study(study_name=name, storage=storage)
            for trial in study.trials:
                measured = TrialRecord.of(trial).measured
                trials.append(
                    {
                        "number": trial.number,
                        "state": trial.state.name,
                        "peak_device_mb": measured.get("peak_device_mb"),
                        "peak_rss_mb": measured.get("peak_rss_mb"),
                    }
                )
    metrics_path = run / "final" / "metrics.json"
    metrics = FinalMetrics.read(metrics_path) if metrics_path.is_file() else None
    stages = [
        {
            "stage": s["name"],
            "planned_minutes": round(s["seconds"] / 60, 2),
            "actual_minutes": round(plan.get("actual_seconds", {}).get(s["name"], 0.0) / 60, 2),
        }
        for s in plan["stages"]
    ]
    record = {
        "budget_seconds": plan["budget_seconds"],
        "elapsed_seconds": plan.get("elapsed_seconds"),
        "wall_seconds": args.wall,
        "plan_choices": plan.get("choices"),
        "device": machine.get("key", {}).get("device"),
        "precision": machine.get("key", {}).get("precision"),
        "train_samples_per_second": {k: round(1 / v, 1) for k, v in rates.items() if v > 0},
        "eval_samples_per_second": {
            k: round(1 / v, 1)
            for k, v in machine.get("eval_seconds_per_example", {}).items()
            if v > 0
        },
        "stages": stages,
        "trials": trials,
        "final_test_accuracy": None if metrics is None else metrics.accuracy,
    }
    write(args.out, "gpu-check", record)
    for row in stages:
        print(
            f"  {row['stage']:<10} planned {row['planned_minutes']:5.2f} min, "
            f"actual {row['actual_minutes']:5.2f} min"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="a subset as token ids and the model in fp16")
    p.add_argument("--data", required=True, help="folder with train.* and test.*")
    p.add_argument("--model", default="packaged:all-MiniLM-L6-v2")
    p.add_argument("--out", required=True)
    p.add_argument("--train", type=int, default=8000, help="training examples kept")
    p.add_argument("--test", type=int, default=2000, help="test examples kept")
    p.add_argument("--max-length", type=int, default=512, help="tokens kept of each text")
    p.add_argument("--text-column", default="text")
    p.add_argument("--label-column", default="label")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=pack)
    p = sub.add_parser("unpack", help="texts and an fp32 model in a working folder")
    p.add_argument("pack")
    p.add_argument("work")
    p.set_defaults(func=unpack)
    p = sub.add_parser("summarize", help="write the check's record")
    p.add_argument("run", help="the run folder (runs/<study>)")
    p.add_argument("--storage", help="the study's storage URL (for per-trial peak memory)")
    p.add_argument("--wall", type=float, help="the run's wall seconds, as timed outside")
    p.add_argument("--out", default=str(Path(__file__).parent / "results"))
    p.set_defaults(func=summarize)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
