"""One exception tree for every error a user can cause or fix.

The CLI turns any :class:`HpoError` into a single line and a non-zero exit code; anything else is
a bug and keeps its traceback.
"""

from __future__ import annotations


class HpoError(Exception):
    """Base class: a problem the user can fix. The message says what, where and how."""

    exit_code: int = 2


class ConfigError(HpoError):
    """The study config (YAML or a ``--set`` override) is malformed or inconsistent."""


class DataError(HpoError):
    """The dataset cannot be loaded or does not look like binary text classification."""


class ModelError(HpoError):
    """The model or tokenizer cannot be loaded from the given hub id, folder or package."""


class StorageError(HpoError):
    """The Optuna storage cannot be opened, or the study in it does not match the config."""


class OfflineError(HpoError):
    """A resource needs the Hugging Face Hub, which cannot be reached from here."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped a search; the message says what became of the running trial.

    A ``KeyboardInterrupt``, so code that stops on Ctrl-C still stops; the CLI prints its
    message as one line and exits with 130.
    """
