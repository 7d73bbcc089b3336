"""OpenMP's wait policy is set before torch loads, unless the user chose one."""

from __future__ import annotations

import subprocess
import sys

from hpo.threads import WAIT_POLICY, share_cores


def test_default_is_passive_and_a_user_value_is_kept() -> None:
    env: dict[str, str] = {}
    assert share_cores(env) is True and env["OMP_WAIT_POLICY"] == WAIT_POLICY == "PASSIVE"
    env = {"OMP_WAIT_POLICY": "ACTIVE"}
    assert share_cores(env) is False and env["OMP_WAIT_POLICY"] == "ACTIVE"


def test_the_cli_sets_it_before_torch_is_imported(make_config) -> None:
    """The variable is read once, when OpenMP starts: it must be in the environment before
    the first ``import torch`` of an hpo process (and so of its worker processes)."""
    code = (
        "import os, sys\n"
        "from hpo.cli import main\n"
        "seen = {}\n"
        "class Probe:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'torch' and 'torch' not in seen:\n"
        "            seen['torch'] = os.environ.get('OMP_WAIT_POLICY')\n"
        "        return None\n"
        "sys.meta_path.insert(0, Probe())\n"
        f"main(['search', {str(make_config({'study': {'n_trials': 0}}))!r}, '--quiet'])\n"
        "print(seen)\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout
    assert out.strip().splitlines()[-1] == "{'torch': 'PASSIVE'}", out
