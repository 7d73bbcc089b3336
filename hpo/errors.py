"""One exception tree for every error a user can cause or fix.

The CLI turns any :class:`HpoError` into a single line and a non-zero exit code; anything else is
a bug and keeps its traceback.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager


class HpoError(Exception):
    """Base class: a problem the user can fix. The message says what, where and how."""

    exit_code: int = 2


class ConfigError(HpoError):
    """The study config (YAML or a ``--set`` override) is malformed or inconsistent.

    Code that checks a key raises it with the key's dotted name and no file name;
    :func:`config_source` around a config's loading and around each command adds the file, so
    one place names it.
    """

    def __init__(self, message: str, *, source: str | None = None) -> None:
        super().__init__(f"{source}: {message}" if source else message)
        #: The file (or ``--set``) the message names, once one is known.
        self.source = source


@contextmanager
def config_source(source: str) -> Iterator[None]:
    """Give a :class:`ConfigError` raised inside, that names no file yet, ``source`` in front."""
    try:
        yield
    except ConfigError as exc:
        if exc.source is not None:
            raise
        raise ConfigError(str(exc), source=source) from None


class DataError(HpoError):
    """The dataset cannot be loaded or does not fit text classification."""


class ModelError(HpoError):
    """The model or tokenizer cannot be loaded from the given hub id, folder or package."""


class StorageError(HpoError):
    """The Optuna storage cannot be opened, or the study in it does not match the config."""


class OfflineError(HpoError):
    """A resource needs the Hugging Face Hub, which cannot be reached from here."""


class DiskFull(HpoError):
    """A write on this machine failed for lack of space (``ENOSPC``, ``EDQUOT``). It is the
    machine's fault, not the trial's params: a worker that meets it queues the trial's params
    for another worker and stops, rather than failing one trial after another."""

    #: sysexits' EX_IOERR: a scheduler sees a fault of this machine, not a bad config.
    exit_code = 74

    @staticmethod
    def caused(exc: BaseException) -> OSError | None:
        """The out-of-space ``OSError`` behind ``exc`` (itself or what it was raised from)."""
        seen: set[int] = set()
        current: BaseException | None = exc
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            if isinstance(current, OSError) and current.errno in _NO_SPACE:
                return current
            current = current.__cause__ or current.__context__
        return None

    @staticmethod
    def says(full: OSError) -> str:
        """``no space left on this machine writing <file> (<strerror>)``, for its messages."""
        where = f" writing {full.filename}" if full.filename else ""
        return f"no space left on this machine{where} ({full.strerror})"


#: errno values of a full disk and of a used-up quota.
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped a search; the message says what became of the running trial.

    A ``KeyboardInterrupt``, so code that stops on Ctrl-C still stops; the CLI prints its
    message as one line and exits with 130.
    """
