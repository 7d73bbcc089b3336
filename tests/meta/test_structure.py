"""The shape of hpo/: packages by stage, imports pointing one way down the layers, no cycle,
small modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "hpo"
TESTS = PACKAGE.parent / "tests"
MAX_LINES = 400

#: Test folders that mirror no package: end-to-end runs of the CLI, checks of the codebase,
#: the benchmarks' own tests.
APART = {"e2e", "meta", "bench"}
#: Modules without a test file of their name, and where they are tested instead.
TESTED_ELSEWHERE = {
    "pipeline.py": "tests/e2e/test_run.py runs every stage of it, and resumes it",
}

#: hpo's layers, top first. A module may import its own layer's modules and any layer below,
#: never one above, not even inside a function. ``hpo/__init__.py`` (the public names, over
#: the API) is the only module above them all.
LAYERS: list[set[str]] = [
    {"cli"},
    {"api"},
    {"pipeline"},
    {"report"},
    {"final"},
    # After the final stage in time, below it in imports: the final model's predictor
    # serves through the exported graph.
    {"export"},
    {"plan"},
    {"search"},
    {"train"},
    {"data"},
    {"config"},
    {"runs", "errors"},
]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def module_name(path: Path, root: Path) -> str:
    """``hpo/config/schema.py`` -> ``hpo.config.schema``; a package's ``__init__`` is the
    package."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def internal_imports(
    path: Path, modules: set[str], package: str, *, annotations: bool = False
) -> set[str]:
    """Modules of ``package`` (among ``modules``) that ``path`` imports, at the top or inside
    functions; imports under ``if TYPE_CHECKING:`` (annotations only, never run) count only
    with ``annotations``. ``from hpo.config import schema`` imports ``hpo.config.schema``."""
    found: set[str] = set()

    def add(name: str) -> None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        if name:
            found.add(name)

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node) and not annotations:
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] == package:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    add(full if full in modules else node.module)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == package:
                    add(alias.name)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def import_graph(package_dir: Path, *, annotations: bool = False) -> dict[str, set[str]]:
    """Module (dotted) -> the package's modules it imports (with ``annotations``, those
    imported for type hints only too)."""
    files = sorted(p for p in package_dir.rglob("*.py") if "_metrics" not in p.parts)
    names = {module_name(p, package_dir): p for p in files}
    modules = set(names)
    return {
        name: internal_imports(path, modules, package_dir.name, annotations=annotations) - {name}
        for name, path in names.items()
    }


def layer_of(module: str, layers: list[set[str]]) -> int | None:
    """Index of the layer a dotted module belongs to (by its first name under the package),
    None for the package's own ``__init__``."""
    parts = module.split(".")
    if len(parts) == 1:
        return None
    for i, layer in enumerate(layers):
        if parts[1] in layer:
            return i
    raise AssertionError(f"{module} is in no layer: add its package to LAYERS")


def upward_imports(graph: dict[str, set[str]], layers: list[set[str]]) -> list[str]:
    """Every import of a module from a layer above its own, as "a -> b"."""
    bad = []
    for module, imported in sorted(graph.items()):
        here = layer_of(module, layers)
        if here is None:
            continue
        for other in sorted(imported):
            there = layer_of(other, layers)
            if there is not None and there < here:
                bad.append(f"{module} -> {other}")
    return bad


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path (first module repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := walk(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := walk(node)):
            return cycle
    return None


def test_no_import_cycle() -> None:
    graph = import_graph(PACKAGE)
    assert {"hpo.config.schema", "hpo.search.loop", "hpo.train.trainer"} <= set(graph), (
        "the walk is broken"
    )
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_import_cycle_even_through_type_hints() -> None:
    """A circle closed by imports under ``TYPE_CHECKING`` runs, but it still says two modules
    each need the other: the type belongs in one of them, or below both."""
    graph = import_graph(PACKAGE, annotations=True)
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle through type hints: " + " -> ".join(cycle or [])


def test_imports_point_down_the_layers() -> None:
    graph = import_graph(PACKAGE)
    assert "hpo.config.schema" in graph["hpo.config.validate"], "the walk is broken"
    bad = upward_imports(graph, LAYERS)
    assert not bad, "imports against the package order: " + "; ".join(bad)


def test_every_package_is_in_a_layer() -> None:
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    assert packages | modules == set().union(*LAYERS)


def test_config_and_errors_are_the_ground_floor() -> None:
    graph = import_graph(PACKAGE)
    config = {m for m in graph if m.startswith("hpo.config")}
    for module in config:
        assert graph[module] <= config | {"hpo.errors"}, (module, graph[module])
    assert graph["hpo.errors"] == set()


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"a": "from pkg import b\n", "b": "import pkg.c\n", "c": ""}, None),
        (
            {"a": "from pkg.b import x\n", "b": "def f():\n    from pkg import a\n"},
            ["pkg.a", "pkg.b", "pkg.a"],
        ),
        (
            {
                "a": "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from pkg.b import B\n",
                "b": "from pkg import a\n",
            },
            None,
        ),
    ],
)
def test_the_cycle_finder(
    tmp_path: Path, files: dict[str, str], expected: list[str] | None
) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    for name, text in files.items():
        (package / f"{name}.py").write_text(text)
    assert find_cycle(import_graph(package)) == expected


def test_the_cycle_finder_sees_type_hints_when_asked(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.b import B\n"
    )
    (package / "b.py").write_text("from pkg import a\n")
    assert find_cycle(import_graph(package)) is None
    assert find_cycle(import_graph(package, annotations=True)) == ["pkg.a", "pkg.b", "pkg.a"]


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        # top imports low: fine; low imports top, even inside a function: against the order.
        ({"top/__init__.py": "", "top/m.py": "from pkg.low.n import x\n"}, []),
        (
            {"low/__init__.py": "", "low/n.py": "def f():\n    from pkg.top import m\n"},
            ["pkg.low.n -> pkg.top.m"],
        ),
        ({"low/__init__.py": "", "low/n.py": "from pkg.low import o\n", "low/o.py": ""}, []),
        (
            {
                "low/__init__.py": "",
                "low/n.py": "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from pkg.top.m import T\n",
            },
            [],
        ),
    ],
)
def test_the_layer_check(tmp_path: Path, files: dict[str, str], expected: list[str]) -> None:
    package = tmp_path / "pkg"
    for name, text in {"top/__init__.py": "", "top/m.py": "", **files}.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text)
    assert upward_imports(import_graph(package), [{"top"}, {"low"}]) == expected


def test_no_module_over_400_lines() -> None:
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"split by concern: {long}"


def test_tests_mirror_the_code() -> None:
    """``tests/<package>/test_<module>.py`` tests ``hpo/<package>/<module>.py``."""
    modules = {
        p.relative_to(PACKAGE)
        for p in PACKAGE.rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py") and "_metrics" not in p.parts
    }
    tests = {
        p.relative_to(TESTS)
        for p in TESTS.rglob("test_*.py")
        if not (set(p.relative_to(TESTS).parts[:-1]) & APART)
    }
    named = {t.with_name(t.name.removeprefix("test_")) for t in tests}
    orphans = sorted(
        str(t) for t in tests if t.with_name(t.name.removeprefix("test_")) not in modules
    )
    assert not orphans, f"test files that name no module of hpo/: {orphans}"
    untested = sorted(str(m) for m in modules - named if str(m) not in TESTED_ELSEWHERE)
    assert not untested, f"modules without tests/<package>/test_<module>.py: {untested}"
    assert set(TESTED_ELSEWHERE) <= {str(m) for m in modules}, "TESTED_ELSEWHERE is stale"


def test_test_files_have_unique_names() -> None:
    """The test folders are not packages, so pytest imports each test file by its bare name:
    two files of one name stop collection of the whole suite ("import file mismatch")."""
    seen: dict[str, list[str]] = {}
    for p in TESTS.rglob("test_*.py"):
        seen.setdefault(p.name, []).append(str(p.relative_to(TESTS)))
    twice = {name: paths for name, paths in seen.items() if len(paths) > 1}
    assert not twice, f"rename one of each (pytest imports test files by bare name): {twice}"


def test_each_package_docstring_names_its_modules() -> None:
    """A reader finds their room from the package's docstring: every module is named in it
    (as ````module````)."""
    missing = {}
    for package in sorted(p for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()):
        if package.name.startswith("_"):
            continue
        doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text())) or ""
        absent = [m.stem for m in package.glob("*.py") if m.stem != "__init__"]
        absent = [m for m in absent if f"``{m}``" not in doc]
        if absent:
            missing[package.name] = sorted(absent)
    assert not missing, f"modules their package's docstring does not name: {missing}"


#: The only functions that may receive the whole config (an ``HpoConfig``, or a ``config`` left
#: untyped): besides the API's calls (``api.py``, the front door), one entry point a stage.
#: Below them each layer is handed the part it reads: what trains a
#: :class:`hpo.config.schema.TrainerSetup`, what opens a study a
#: :class:`hpo.config.schema.StudySetup`, the planner a :class:`hpo.plan.request.PlanRequest`.
STAGE_ENTRIES = frozenset(
    {
        "pipeline.py:run_all",
        "plan/budgeted.py:plan_budget",
        "search/loop.py:run_search",
        "final/retrain.py:train_and_test",
        "report/markdown.py:make_report",
    }
)
#: Issue 36's goal: at most 15, all of them entry points.
MAX_WHOLE_CONFIG = 15


def whole_config_receivers(package_dir: Path) -> list[str]:
    """``module:function`` of every function with a parameter typed ``HpoConfig`` (or one named
    ``config`` that is untyped or typed ``Any``/``object``, which hides the same thing)."""
    found = []
    for path in sorted(package_dir.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            params = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
            for arg in params:
                hint = ast.unparse(arg.annotation) if arg.annotation else ""
                if "HpoConfig" in hint or (arg.arg == "config" and hint in ("", "Any", "object")):
                    found.append(f"{path.relative_to(package_dir)}:{node.name}")
                    break
    return found


def test_few_functions_receive_the_whole_config() -> None:
    found = whole_config_receivers(PACKAGE)
    assert "api.py:run" in found and "search/loop.py:run_search" in found, "walk broken"
    inside = sorted(f for f in found if not f.startswith("api.py:") and f not in STAGE_ENTRIES)
    assert not inside, (
        f"{inside} take the whole config but are no stage's entry point: hand them the section "
        "or the setup they read (TrainerSetup, StudySetup, PlanRequest)."
    )
    assert len(found) <= MAX_WHOLE_CONFIG, (
        f"{len(found)} functions take the whole config (at most {MAX_WHOLE_CONFIG}): hand a "
        f"helper the section it reads. {found}"
    )


def test_the_walk_sees_a_config_however_it_is_typed(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(
        "from typing import Any\n"
        "def typed(config: HpoConfig): ...\n"
        "def quoted(c: 'HpoConfig | None'): ...\n"
        "def untyped(config): ...\n"
        "def hidden(x, *, config: Any): ...\n"
        "def narrow(study: StudySection, config_file: Any): ...\n",
        encoding="utf-8",
    )
    found = whole_config_receivers(tmp_path)
    assert found == ["m.py:typed", "m.py:quoted", "m.py:untyped", "m.py:hidden"], found
