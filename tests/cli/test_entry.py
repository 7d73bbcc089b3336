"""The entry point: a user error is one line and exit 2, Ctrl-C is one line and exit 130."""

from __future__ import annotations

import errno

import pytest

import hpo.cli.entry
from hpo.cli import main
from hpo.errors import ConfigError, Interrupted


def _raising(exc: BaseException):
    def command(args):
        raise exc

    return command


@pytest.mark.parametrize(
    ("exc", "code", "line"),
    [
        (ConfigError("data.max_length must be >= 8"), 2, "hpo: error: c.yaml: data.max_length"),
        (Interrupted("interrupted: trial 3 is queued"), 130, "hpo: interrupted: trial 3 is queued"),
        (KeyboardInterrupt(), 130, "hpo: interrupted; finished trials are kept"),
        (
            OSError(errno.ENOSPC, "No space left on device", "runs/t/report.md"),
            74,
            "hpo: error: no space left on this machine writing runs/t/report.md",
        ),
    ],
)
def test_errors_become_one_line_and_an_exit_code(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    exc: BaseException,
    code: int,
    line: str,
) -> None:
    monkeypatch.setitem(hpo.cli.entry.COMMANDS, "show-config", _raising(exc))
    assert main(["show-config", "c.yaml"]) == code
    err = capsys.readouterr().err
    assert err.startswith(line) and err.count("\n") == 1


def test_any_other_os_error_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        hpo.cli.entry.COMMANDS, "show-config", _raising(OSError(errno.EIO, "I/O error"))
    )
    with pytest.raises(OSError, match="I/O error"):
        main(["show-config", "c.yaml"])
