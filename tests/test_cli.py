"""The CLI as a user runs it: exit codes, one-line errors, files and the study in storage."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from hpo.cli import main


def test_help_for_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["search", "--help"], ["trials", "--help"], ["show-config", "--help"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 0
    assert "--n-trials" in capsys.readouterr().out


def test_show_config_prints_resolved_yaml(make_config, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show-config", str(make_config()), "--set", "study.n_trials=9"]) == 0
    out = capsys.readouterr().out
    assert "n_trials: 9" in out and "storage: sqlite:///" in out


@pytest.mark.parametrize(
    ("argv_extra", "expected"),
    [
        (["--set", "study.n_trials=zero"], "study.n_trials: expected int"),
        (["--set", "nope=1"], "nope: unknown key"),
        (["--storage", "notaurl"], "malformed storage URL"),
    ],
)
def test_user_errors_are_one_line_exit_2(
    make_config, capsys: pytest.CaptureFixture[str], argv_extra: list[str], expected: str
) -> None:
    code = main(["search", str(make_config()), "--quiet", *argv_extra])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("hpo: error: ") and expected in err
    assert len(err.splitlines()) == 1, err


def test_bad_yaml_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("study: [\n")
    assert main(["show-config", str(path)]) == 2
    assert "malformed YAML" in capsys.readouterr().err


def test_trials_of_missing_study(make_config, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trials", str(make_config())]) == 2
    assert "no study 't'" in capsys.readouterr().err


def test_debug_shows_traceback(make_config) -> None:
    from hpo.errors import ConfigError

    with pytest.raises(ConfigError):
        main(["--debug", "show-config", str(make_config()), "--set", "nope=1"])


@pytest.mark.slow
def test_search_trials_and_resume_through_cli(
    make_config, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(make_config())
    assert main(["search", path, "--quiet", "--n-trials", "1"]) == 0
    assert "best trial 0" in capsys.readouterr().out
    assert main(["search", path, "--quiet", "--n-trials", "2"]) == 0
    capsys.readouterr()
    assert main(["trials", path]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:4] == ["#", "state", "accuracy", "seconds"]
    assert [row.split()[1] for row in table[1:]] == ["COMPLETE", "COMPLETE"]
    study = optuna.load_study(study_name="t", storage=f"sqlite:///{tmp_path / 'storage' / 't.db'}")
    assert len(study.trials) == 2
    assert f"{study.trials[1].value:.4f}" in table[2]
