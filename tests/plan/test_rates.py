"""A machine's rates as data, and what fits on a GPU: the peak memory measured at each length
scaled to a batch, the headroom kept free, and the plan that picks only what fits."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from test_planner import plan, profile, rates

from hpo.plan.constants import MEMORY_HEADROOM
from hpo.plan.rates import MachineRates, fits, peak_at, static_mb

#: A training step's peak MiB at batch 16 on a GPU, by length (512 tokens ran out of memory).
PEAKS = {32: 900.0, 64: 1300.0, 128: 2100.0, 192: 3000.0, 256: 4200.0, 512: math.inf}


def test_what_grows_with_the_batch_is_what_is_not_static() -> None:
    static = static_mb(22_700_000)
    assert static == pytest.approx(4 * 22_700_000 * 4 / 2**20)
    at_32 = peak_at(PEAKS, static, 100, batch=32, measured=16)
    assert at_32 == pytest.approx(static + (2100.0 - static) * 2)  # 100 costs as 128 does
    assert math.isinf(peak_at(PEAKS, static, 300, batch=8, measured=16))
    assert fits({}, None, 0.0, 512, batch=64, measured=16), "a CPU measures nothing: all fit"
    device = 4200.0 / (1 - MEMORY_HEADROOM)
    assert fits(PEAKS, device, static, 256, batch=16, measured=16)
    assert not fits(PEAKS, device, static, 256, batch=32, measured=16)


def test_a_length_out_of_memory_survives_json_as_null() -> None:
    measured = dataclasses.replace(rates(), peak_mb=PEAKS, device_mb=8000.0, static_mb=350.0)
    data = json.loads(json.dumps(measured.to_dict(), allow_nan=False))
    assert data["peak_mb"]["512"] is None
    assert MachineRates.from_dict(data) == measured


def test_the_plan_picks_only_a_length_that_fits_at_its_largest_batch() -> None:
    long_texts = profile(n_train=25000, lengths=[300] * 1000 + [1200] * 1000)
    fast = rates(1 / 50)  # a GPU's speed: time would allow the model's whole length
    free = plan(prof=long_texts, budget=3600.0, machine=fast)
    assert free.value("data.max_length") == 512
    # Batches of up to 32 (the search's largest and the final stage's): 192 tokens fit with
    # the headroom free on this device, 256 do not.
    device = (static_mb(22_700_000) + (3000.0 - static_mb(22_700_000)) * 2) / (1 - MEMORY_HEADROOM)
    small = dataclasses.replace(
        fast, peak_mb=PEAKS, device_mb=device + 1, static_mb=static_mb(22_700_000)
    )
    assert plan(prof=long_texts, budget=3600.0, machine=small).value("data.max_length") == 192
