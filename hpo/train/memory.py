"""What a trial leaves behind: the process's memory, the accelerator's, and the heap handed
back between trials."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
from typing import Any


def memory_mb() -> tuple[float, float]:
    """Resident memory now and the process's high-water mark, in MiB (Linux: ru_maxrss in KiB).

    If trials leaked, both would climb trial after trial.
    """
    import resource

    import psutil

    rss = psutil.Process().memory_info().rss / 2**20
    return rss, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@functools.cache
def libc() -> Any:
    """The C library, where ctypes finds one (None elsewhere)."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


def release_heap() -> None:
    """Collect the young generation (what a trial leaves in young cycles: a pruned trial's
    traceback holds its training frames), then hand freed heap pages back with glibc's
    ``malloc_trim``: dynamic padding allocates tensors of a new size almost every step, and on
    a fragmented heap a later trial pushed the process's high-water mark up."""
    gc.collect(1)
    trim = getattr(libc(), "malloc_trim", None)
    if trim is not None:
        trim(0)


def out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is PyTorch's out-of-memory error (a CUDA device's, or another's)."""
    import torch

    return isinstance(exc, torch.OutOfMemoryError)


def release_device() -> None:
    """Hand the accelerator's cached blocks back after a trial ran out of memory, so the next
    trial starts on a device as empty as the first one did."""
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def reset_device_peak() -> None:
    """Start counting the accelerator's peak memory afresh (at a trial's start)."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def device_peak_mb() -> float | None:
    """The accelerator's peak allocated memory since :func:`reset_device_peak`, in MiB; None
    without one. A trial's own, so memory growing across trials shows in their records."""
    import torch

    if not torch.cuda.is_available():
        return None
    return round(torch.cuda.max_memory_allocated() / 2**20, 1)
