"""TrainingArguments from a config: bf16 and TF32 where the hardware runs them natively."""

from __future__ import annotations

from hpo.train.arguments import precision_defaults


def test_precision_defaults_follow_the_gpu_and_the_config() -> None:
    assert precision_defaults({}, bf16=False, tf32=False) == {}  # CPU: nothing changes
    assert precision_defaults({}, bf16=True, tf32=True) == {"bf16": True, "tf32": True}
    assert precision_defaults({}, bf16=False, tf32=True) == {"tf32": True}  # e.g. no bf16
    # What the config says wins: fp16 chosen, or bf16/tf32 turned off.
    assert precision_defaults({"fp16": True}, bf16=True, tf32=True) == {"tf32": True}
    assert precision_defaults({"bf16": False, "tf32": False}, bf16=True, tf32=True) == {}
    # A CPU with native bf16 (AVX512-BF16/AMX): Trainer needs use_cpu for bf16 there.
    cpu = {"bf16": False, "tf32": False, "cpu_bf16": True}
    assert precision_defaults({}, **cpu) == {"bf16": True, "use_cpu": True}
    assert precision_defaults({"bf16": False}, **cpu) == {}
