"""Is the Hugging Face Hub reachable? Asked once, in a few seconds, before any hub download.

Without this, an unreachable Hub costs the libraries' retries for every file before they give
up. With it, hub ids resolve from the local HF cache at once, and a missing file fails at once
with advice on going offline.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from urllib.parse import urlparse

logger = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 3.0
_TRUE = {"1", "true", "yes", "on"}


def offline_requested() -> bool:
    """The user asked for offline mode (``HF_HUB_OFFLINE`` or ``HF_DATASETS_OFFLINE``)."""
    return any(
        os.environ.get(v, "").strip().lower() in _TRUE
        for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")
    )


@lru_cache(maxsize=1)
def hub_reachable() -> bool:
    """One TCP connection to the Hub endpoint (``HF_ENDPOINT``), with a short timeout."""
    if offline_requested():
        return False
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host, port = (
        url.hostname or "huggingface.co",
        url.port or (443 if url.scheme == "https" else 80),
    )
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S):
            return True
    except OSError as exc:
        logger.warning(
            "The Hugging Face Hub (%s) is not reachable (%s); using local files only. "
            "Set HF_HUB_OFFLINE=1 to skip this check.",
            host,
            exc,
        )
        return False


def local_only() -> bool:
    """Whether hub downloads must be skipped: offline requested or the Hub unreachable."""
    return offline_requested() or not hub_reachable()


@contextmanager
def datasets_offline(enabled: bool) -> Iterator[None]:
    """Put ``datasets`` in offline mode for one call.

    ``datasets`` reads ``HF_HUB_OFFLINE`` once at import and ignores ``local_files_only`` for
    its first metadata request, so the switch is its config flag.
    """
    import datasets.config

    saved = datasets.config.HF_HUB_OFFLINE
    datasets.config.HF_HUB_OFFLINE = saved or enabled
    try:
        yield
    finally:
        datasets.config.HF_HUB_OFFLINE = saved
