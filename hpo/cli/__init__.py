"""The command line: ``parser`` (subcommands and flags), ``commands`` (one thin function per
subcommand), ``entry`` (``main``, the entry point: errors to one line, exit codes),
``console`` (what a command prints), ``threads`` (OpenMP settings made before torch loads)
and ``__main__`` (``python -m hpo.cli``).

Nothing in hpo imports this package.
"""

from __future__ import annotations

from hpo.cli.entry import main

__all__ = ["main"]
