"""OpenMP threads spin briefly: set before torch loads, unless the user chose a setting."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from hpo.cli.threads import SPIN_SETTING, share_cores


def test_default_is_a_short_spin() -> None:
    env: dict[str, str] = {}
    assert share_cores(env) is True and env == SPIN_SETTING == {"GOMP_SPINCOUNT": "10000"}


@pytest.mark.parametrize(
    "chosen",
    [{"OMP_WAIT_POLICY": "ACTIVE"}, {"OMP_WAIT_POLICY": "PASSIVE"}, {"GOMP_SPINCOUNT": "0"}],
)
def test_a_users_setting_is_kept(chosen: dict[str, str]) -> None:
    env = dict(chosen)
    assert share_cores(env) is False and env == chosen


def test_the_cli_sets_it_before_torch_is_imported(make_config) -> None:
    """libgomp reads the variable once, when it starts: it must be in the environment before
    the first ``import torch`` of an hpo process (and so of its worker processes)."""
    code = (
        "import os, sys\n"
        "from hpo.cli import main\n"
        "seen = {}\n"
        "class Probe:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'torch' and 'torch' not in seen:\n"
        "            seen['torch'] = os.environ.get('GOMP_SPINCOUNT')\n"
        "        return None\n"
        "sys.meta_path.insert(0, Probe())\n"
        f"main(['search', {str(make_config({'study': {'n_trials': 0}}))!r}, '--quiet'])\n"
        "print(seen)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout
    assert out.strip().splitlines()[-1] == "{'torch': '10000'}", out
