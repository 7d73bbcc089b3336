"""The private APIs hpo still relies on, each with what breaks if a release changes it.

Public ways are used wherever one exists (Optuna's distributions are checked by
hpo.config.space's own ``contains``). These have none; each test fails with a message that
names what to fix, rather than letting a search quietly lose its length bucketing, its pruning
axis or its memory release.
"""

from __future__ import annotations

import inspect

import torch
from transformers import Trainer


def _params(func: object) -> list[str]:
    return list(inspect.signature(func).parameters)  # type: ignore[arg-type]


def test_trainer_sampler_hooks() -> None:
    """HpoTrainer overrides these to serve length buckets in training and length order in
    evaluation (hpo.train.trainer); renamed, Trainer would silently fall back to random batches."""
    assert _params(Trainer._get_train_sampler)[:2] == ["self", "train_dataset"], (
        "Trainer._get_train_sampler changed: update HpoTrainer._get_train_sampler"
    )
    assert _params(Trainer._get_eval_sampler)[:2] == ["self", "eval_dataset"], (
        "Trainer._get_eval_sampler changed: update HpoTrainer._get_eval_sampler"
    )


def test_trainer_reports_to_the_search_through_report_to_hp_search() -> None:
    """HpoTrainer reports on the samples-seen axis and keeps the best evaluation by overriding
    this; renamed, trials would report against global_step and keep their last evaluation."""
    assert _params(Trainer._report_to_hp_search) == ["self", "trial", "step", "metrics"], (
        "Trainer._report_to_hp_search changed: update HpoTrainer._report_to_hp_search"
    )
    assert "_report_to_hp_search" in inspect.getsource(Trainer), (
        "Trainer no longer calls _report_to_hp_search after an evaluation"
    )


def test_train_applies_a_trial_through_hp_space() -> None:
    """hpo.train.trainer.replay hands the best trial to ``train(trial=...)`` with ``hp_space`` and
    ``hp_search_backend`` set, as ``hyperparameter_search`` does; Trainer's
    ``_hp_search_setup`` applies it."""
    assert "trial" in _params(Trainer.train), "Trainer.train lost its trial argument"
    source = inspect.getsource(Trainer._hp_search_setup)
    assert "self.hp_space(trial)" in source and "hp_search_backend" in source, (
        "Trainer._hp_search_setup no longer calls hp_space: update hpo.train.trainer.replay"
    )


def test_model_config_keeps_its_attention_kernel() -> None:
    """hpo.train.kernels reads the kernel a model was loaded with from
    ``config._attn_implementation`` (no public getter exists) to switch back to it for
    evaluation: a model loaded with each kernel must say so there."""
    from transformers import AutoModelForSequenceClassification, BertConfig

    tiny = BertConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
    )
    for kernel in ("eager", "sdpa"):
        model = AutoModelForSequenceClassification.from_config(tiny, attn_implementation=kernel)
        assert model.config._attn_implementation == kernel, (
            "a model's config no longer keeps its attention kernel in _attn_implementation: "
            "update hpo.train.kernels._kernel_of"
        )


def test_datasets_fingerprints_a_dataset() -> None:
    """hpo.data.sources identifies the data a study searched by each split's
    ``Dataset._fingerprint`` (no public getter): it must exist, be a string, and differ for
    other contents, or a study would run on changed data without noticing."""
    from datasets import Dataset

    one = Dataset.from_dict({"text": ["a", "b"], "label": [0, 1]})
    same = Dataset.from_dict({"text": ["a", "b"], "label": [0, 1]})
    other = Dataset.from_dict({"text": ["a", "c"], "label": [0, 1]})
    assert isinstance(one._fingerprint, str), (
        "datasets.Dataset._fingerprint changed: update hpo.data.sources.load_raw"
    )
    assert one._fingerprint == same._fingerprint != other._fingerprint


def test_accelerate_keeps_the_original_forward_on_the_model() -> None:
    """HpoTrainer._release_last_trial pops these instance attributes, the reference cycle
    Accelerate's mixed-precision wrapper makes; renamed, every trial's model would stay in
    memory until a full garbage collection."""
    import accelerate

    source = inspect.getsource(accelerate.Accelerator.prepare_model)
    assert "_original_forward" in source and "model.forward" in source, (
        "Accelerate no longer wraps model.forward: update HpoTrainer._release_last_trial"
    )


def test_torch_reports_native_cpu_bf16() -> None:
    """hpo.train.arguments.hardware_precision turns on bf16 autocast on CPUs with AVX512-BF16 or
    AMX through these probes; gone, CPUs would silently train in fp32."""
    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        assert isinstance(getattr(torch.cpu, probe)(), bool), f"torch.cpu.{probe} changed"


def test_optunas_heartbeat_and_stale_check_go_through_the_storages_public_methods() -> None:
    """hpo.search.resilient keeps a worker alive through a lost database by overriding
    RDBStorage's public methods; that holds only while Optuna's heartbeat thread writes with
    ``record_heartbeat`` and its stale check fails trials with ``set_trial_state_values``
    and requeues them through the storage's stale-trial callback."""
    from optuna.storages import RDBStorage, _heartbeat

    from hpo.search.resilient import RETRIED

    thread = inspect.getsource(_heartbeat.HeartbeatThread)
    assert "heartbeat.record_heartbeat(" in thread, (
        "Optuna's heartbeat thread no longer calls storage.record_heartbeat: update "
        "ResilientStorage.record_heartbeat, or a database error will end the thread again"
    )
    stale = inspect.getsource(_heartbeat.fail_stale_trials)
    assert "set_trial_state_values(" in stale and "get_heartbeat_stale_trial_callback" in stale, (
        "optuna.storages.fail_stale_trials changed: check hpo.search.resilient's "
        "stale_trial_callback still records why a trial failed"
    )
    missing = [name for name in RETRIED if not hasattr(RDBStorage, name)]
    assert not missing, f"RDBStorage lost methods hpo retries: {missing}; update RETRIED"


def test_the_studys_cached_storage_calls_only_the_methods_hpo_makes_resilient() -> None:
    """Optuna's _CachedStorage (what a study wraps an RDBStorage in) calls private backend
    methods; ResilientStorage retries exactly those it knows. A new one would go unretried:
    a worker would crash on the first lost connection there."""
    import re

    from optuna.storages import _cached_storage

    from hpo.search.resilient import RETRIED

    called = set(re.findall(r"self\._backend\.(_[a-z_]+)\(", inspect.getsource(_cached_storage)))
    handled = {name for name in RETRIED if name.startswith("_")} | {"_create_new_trial"}
    assert called <= handled, f"_CachedStorage calls {sorted(called - handled)}: add to RETRIED"
