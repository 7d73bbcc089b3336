"""What a fresh install needs: every third-party module that hpo/ imports is declared."""

from __future__ import annotations

import ast
import itertools
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+; CI runs 3.11


REPO = Path(__file__).resolve().parents[2]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_top_level_modules(package: Path) -> dict[str, str]:
    """Top-level names of absolute imports in ``package`` (function bodies included) -> a file
    that imports it; the standard library and the package itself left out."""
    found: dict[str, str] = {}
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != package.name:
                    found.setdefault(top, str(path.relative_to(package.parent)))
    return found


def declared_distributions() -> set[str]:
    """Distribution names in pyproject.toml's dependencies and optional dependencies."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    specs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        specs += extra
    return {_canonical(re.split(r"[\s<>=!~;\[]", spec, maxsplit=1)[0]) for spec in specs}


def test_every_third_party_import_of_hpo_is_declared() -> None:
    modules = imported_top_level_modules(REPO / "hpo")
    assert {"torch", "transformers", "optuna", "matplotlib"} <= set(modules), "the walk is broken"
    owners = metadata.packages_distributions()
    declared = declared_distributions()
    undeclared = []
    for module, where in sorted(modules.items()):
        dists = {_canonical(d) for d in owners.get(module, [])}
        if not dists:
            undeclared.append(f"{module} (imported in {where}; not installed here)")
        elif not dists & declared:
            undeclared.append(f"{module} (imported in {where}; from {', '.join(sorted(dists))})")
    assert not undeclared, "declare these in pyproject.toml: " + "; ".join(undeclared)


def test_the_walk_sees_imports_inside_functions(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "m.py").write_text(
        "import os\nfrom pkg import x\n\ndef f():\n    import numpy.linalg\n    from .y import z\n"
    )
    assert imported_top_level_modules(package) == {"numpy": "pkg/m.py"}


def _first_bash_block(text: str) -> list[str]:
    block = text.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]


def test_readme_opens_with_the_install_and_the_main_job() -> None:
    """Right on an ordinary machine: PyTorch's own CPU index first (a bare torch requirement
    pulls a multi-GB CUDA build), then the project; then the main job, data from the Hub."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    install, run = _first_bash_block(readme)
    torch_step, project_step = install.split(" && ")
    assert torch_step == "pip install torch --index-url https://download.pytorch.org/whl/cpu"
    assert project_step == 'pip install -e ".[offline]"'
    assert run == "hpo run study_configs/imdb_minilm.yaml"
    assert f"{run} --set data.path=" in readme, "the offline form is shown beside it"


def test_ci_builds_its_own_environment_with_the_readme_commands() -> None:
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    torch_step = _first_bash_block(readme)[0].split(" && ")[0]
    assert "python3 -m venv" in ci and '. "$VENV/bin/activate"' in ci
    # The README's commands with options that change only pip's output and CI's time.
    quiet = "pip install --quiet --no-compile"
    assert f"{torch_step.replace('pip install', quiet)}\n" in ci
    assert "LOCAL EQUIVALENT" in ci, "the disk wheel fallback is marked as such"
    test_command = readme.split("Tests (offline", 1)[1].split("```bash\n", 1)[1].split("\n")[0]
    assert (
        test_command == 'pip install -e ".[offline,dev,postgres,fast,tracking,wandb]" && pytest -q'
    )
    # The README's extras, with the docs site's in the same resolve (CI builds the site too).
    assert f'{quiet} -e ".[offline,dev,postgres,fast,tracking,wandb,docs]"' in ci
    assert "python3 -m pytest -q" in ci


def test_the_readme_stays_a_front_door() -> None:
    """What hpo is, the two commands, the test command, one results table and links: at most
    150 lines; every other table belongs on the docs site's results pages."""
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 150, f"README.md has {len(lines)} lines; move detail to docs/"
    tables = sum(
        1
        for before, line in itertools.pairwise(lines)
        if line.startswith("| ---") or line.startswith("| :--") or line.startswith("| --:")
        if before.startswith("|")
    )
    assert tables <= 1, f"README.md has {tables} tables; results tables go to docs/results/"
