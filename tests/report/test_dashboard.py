"""optuna-dashboard on a real study: its HTTP API, and the page in headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hpo.api import load_config
from hpo.search.loop import run_search

pytestmark = pytest.mark.slow


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        return json.loads(response.read())


@pytest.fixture
def dashboard(searched: Path) -> Iterator[dict[str, Any]]:
    """A study with 2 trials (whose tiny model learned, so the curves in the screenshot mean
    something) and a final-stage file, and `hpo dashboard` serving it."""
    path = searched
    config = load_config(path)
    config.output_dir.mkdir(parents=True, exist_ok=True)
    (config.output_dir / "best_params.yaml").write_text("learning_rate: 0.001\n")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hpo.cli", "dashboard", str(path), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            _get(f"{base}/api/studies")
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"dashboard did not start: {proc.stdout.read()}") from None
            time.sleep(0.3)
    yield {"base": base, "config": config, "path": path, "proc": proc}
    proc.terminate()
    proc.wait(timeout=10)


def test_dashboard_api_shows_study_trials_notes_and_artifacts(dashboard: dict[str, Any]) -> None:
    base, config = dashboard["base"], dashboard["config"]
    summaries = _get(f"{base}/api/studies")["study_summaries"]
    assert [s["study_name"] for s in summaries] == ["t"]
    detail = _get(f"{base}/api/studies/{summaries[0]['study_id']}")
    assert len(detail["trials"]) == 2
    attrs = {a["key"]: a["value"] for a in detail["user_attrs"]}
    assert json.loads(attrs["config.study"])["name"] == "t"
    assert set(json.loads(attrs["config.search_space"])) == set(config.search_space)
    assert len(attrs["data_fingerprint"]) == 16
    assert "Best trial so far" in detail["note"]["body"]
    assert "hpo search" in detail["note"]["body"]
    for trial in detail["trials"]:
        assert trial["intermediate_values"], "learning curves need intermediate values"
        trial_attrs = {a["key"]: a["value"] for a in trial["user_attrs"]}
        evals = json.loads(trial_attrs["evals"])
        assert {"accuracy", "loss", "samples_seen"} <= set(evals[0])
        assert float(trial_attrs["train_runtime"]) > 0
    assert [a["filename"] for a in detail["artifacts"]] == ["best_params.yaml"]
    assert dashboard["proc"].poll() is None


def test_dashboard_reads_while_a_search_writes(dashboard: dict[str, Any]) -> None:
    base, path = dashboard["base"], dashboard["path"]
    errors: list[BaseException] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            try:
                _get(f"{base}/api/studies/1")
            except BaseException as exc:  # any failure is the test's failure
                errors.append(exc)
            time.sleep(0.05)

    reader = threading.Thread(target=poll)
    reader.start()
    try:
        study = run_search(load_config(path, n_trials=4), quiet=True)
    finally:
        stop.set()
        reader.join()
    assert not errors, errors[:3]
    assert len(study.trials) == 4
    assert len(_get(f"{base}/api/studies/1")["trials"]) == 4


@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="needs Debian's chromium (.ci/run installs it)",
)
def test_dashboard_in_headless_chromium(dashboard: dict[str, Any], tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    assert CHROMIUM is not None, "CI must install chromium"
    shot = tmp_path / "dashboard.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{dashboard['base']}/dashboard/studies/1", wait_until="networkidle")
        page.wait_for_selector("text=Intermediate values", timeout=30_000)
        body = page.inner_text("body")
        page.screenshot(path=str(shot), full_page=True)
        page.goto(f"{dashboard['base']}/dashboard/studies/1/trials", wait_until="networkidle")
        page.wait_for_selector("text=Trial 1", timeout=30_000)
        trials_page = page.inner_text("body")
        browser.close()
    assert "t (id=1)" in body
    assert "validation accuracy" in body
    assert "Best Trial" in body
    assert "Trial 0" in trials_page and "Trial 1" in trials_page
    assert shot.stat().st_size > 10_000
