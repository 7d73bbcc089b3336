"""The CLI as a user runs it: exit codes, one-line errors, files and the study in storage."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import yaml

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


def _files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


@pytest.mark.parametrize(
    "argv",
    [
        ["trials"],
        ["export"],
        ["report"],
        ["dashboard"],
        ["export", "--study-name", "nosuch"],
    ],
)
def test_read_only_commands_create_nothing(
    argv: list[str],
    make_config,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    delete: object,
) -> None:
    """From an empty folder, with the default storage/ and runs/ under it: no database, no
    folder, one line naming what is missing."""
    import hpo.report.dashboard

    monkeypatch.setattr(hpo.report.dashboard, "serve", lambda *a, **k: pytest.fail("served"))
    path = make_config({"study": {"storage": delete}, "training": {"output_dir": delete}})
    cwd = tmp_path / "empty"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    assert main([argv[0], str(path), *argv[1:]]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert f"{cwd / 'storage'}" in err and "does not exist" in err
    assert _files_under(cwd) == set()


@pytest.mark.slow
def test_missing_study_names_the_existing_ones_and_readers_write_nothing(
    make_config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import hpo.report.dashboard

    path = make_config({"study": {"n_trials": 1}})
    assert main(["search", str(path), "--quiet"]) == 0
    db = tmp_path / "storage" / "t.db"
    storage = f"sqlite:///{db}"
    rdb = optuna.storages.RDBStorage(storage)

    def written() -> tuple[dict, dict]:  # the note lives in the study's system attrs
        study_id = rdb.get_study_id_from_name("t")
        return rdb.get_study_system_attrs(study_id), rdb.get_study_user_attrs(study_id)

    before = written()
    assert any("note" in key for key in before[0]), "the search wrote a note"
    capsys.readouterr()

    # Another study name: one line that names the study there; no new study in the database.
    for command in ("trials", "export", "report"):
        assert main([command, str(path), "--study-name", "nosuch"]) == 2
        err = capsys.readouterr().err.strip()
        assert "no study 'nosuch'" in err and "studies there: t" in err, err
    assert optuna.get_all_study_names(storage) == ["t"]

    # The dashboard, trials and show-config with another config leave the study as it was:
    # only a process that runs trials writes the note and the stored config.
    monkeypatch.setattr(hpo.report.dashboard, "serve", lambda *a, **k: None)
    other = ["--set", "study.n_trials=99", "--set", "data.max_length=40"]
    files = _files_under(tmp_path / "runs")
    for command in ("dashboard", "trials", "show-config"):
        assert main([command, str(path), *other]) == 0
    assert written() == before
    assert _files_under(tmp_path / "runs") == files


def test_light_commands_do_not_import_torch(make_config, tmp_path: Path) -> None:
    """show-config, trials and --help stay fast: they never load torch or Transformers."""
    import subprocess
    import sys

    path = make_config()
    (tmp_path / "storage").mkdir()
    optuna.create_study(
        study_name="t", storage=f"sqlite:///{tmp_path / 'storage' / 't.db'}"
    )  # trials needs a study to list
    for argv in (["show-config", str(path)], ["trials", str(path)], ["--help"]):
        code = (
            f"import sys\nfrom hpo.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n"
            "    pass\nprint(sorted({'torch', 'transformers'} & set(sys.modules)))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        assert out.strip().splitlines()[-1] == "[]", (argv, out)


def test_path_errors_print_the_absolute_path_tried(
    make_config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    # In the file: relative to the file's folder (tmp_path).
    path = make_config({"data": {"path": "nosuch-data"}})
    assert main(["search", str(path), "--quiet"]) == 2
    assert f"data.path: {tmp_path / 'nosuch-data'} does not exist" in capsys.readouterr().err
    # On the command line: relative to the current folder.
    assert main(["search", str(path), "--quiet", "--set", "data.path=../other"]) == 2
    assert f"data.path: {tmp_path / 'other'} does not exist" in capsys.readouterr().err
    path = make_config({"model": {"name": "./no-model"}}, name="m.yaml")
    assert main(["search", str(path), "--quiet"]) == 2
    assert f"folder {tmp_path / 'no-model'} does not exist" in capsys.readouterr().err
    assert main(["show-config", "no/such.yaml"]) == 2
    assert str(cwd / "no/such.yaml") in capsys.readouterr().err


def test_predict_batch_size_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    out = capsys.readouterr().out
    assert "texts per forward pass" in out


@pytest.mark.slow
def test_the_notes_reproduce_command_resumes_the_same_study(
    make_config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, delete: object
) -> None:
    """The note's command runs the saved config: every --set kept, from any folder."""
    import shlex

    from optuna_dashboard._note import get_note_from_system_attrs

    path = make_config({"study": {"storage": delete}, "training": {"output_dir": delete}})
    first = tmp_path / "first"
    first.mkdir()
    monkeypatch.chdir(first)
    argv = ["search", str(path), "--quiet", "--set", "data.max_length=40", "--n-trials", "1"]
    assert main(argv) == 0
    saved = first / "runs" / "t" / "config.yaml"
    assert yaml.safe_load(saved.read_text())["data"]["max_length"] == 40
    storage = f"sqlite:///{first / 'storage' / 't.db'}"
    rdb = optuna.storages.RDBStorage(storage)
    attrs = rdb.get_study_system_attrs(rdb.get_study_id_from_name("t"))
    body = get_note_from_system_attrs(attrs, None)["body"]
    command = body.split("```bash\n", 1)[1].split("\n", 1)[0]
    assert shlex.split(command) == ["hpo", "search", str(saved)]

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    capsys.readouterr()
    assert main([*shlex.split(command)[1:], "--quiet"]) == 0
    assert f"study 't' in {storage}: best trial 0" in capsys.readouterr().out
    assert len(optuna.load_study(study_name="t", storage=storage).trials) == 1
    assert list(elsewhere.iterdir()) == [], "nothing under the new current folder"


def test_every_command_goes_through_the_api() -> None:
    """One front door: a command calls :mod:`hpo.api` and prints. What a command may import
    from hpo beside the API is what it needs to parse and print (the error tree, paths to
    name, the plan's table, the Slurm job's options), never a stage."""
    import ast
    import inspect

    import hpo.cli.commands as commands

    printing = {"hpo", "hpo.errors", "hpo.runs", "hpo.plan.table", "hpo.config.budget"}
    parsing = {("hpo.search.launch", "SlurmJob")}
    tree = ast.parse(inspect.getsource(commands))
    stages = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hpo"):
            for alias in node.names:
                if node.module not in printing and (node.module, alias.name) not in parsing:
                    stages.append(f"{node.module}.{alias.name}")
    assert not stages, f"commands that reach past hpo.api into a stage: {stages}"
    called = {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "api"
    }
    assert {"run", "run_search", "plan_budget", "retrain", "quantize", "predict"} <= called


def test_dashboard_of_a_missing_study_prints_no_address(make_config, capsys) -> None:
    """The address is printed once the study is found, never for a study that is not there."""
    from hpo.cli import main

    assert main(["dashboard", str(make_config())]) == 2
    captured = capsys.readouterr()
    assert "optuna-dashboard for study" not in captured.out
    assert captured.err.startswith("hpo: error:")
