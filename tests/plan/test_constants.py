"""The planner's tuned numbers live in one module, each with a comment that says where it came
from; the other planner modules define none of their own."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import hpo.plan.constants as constants

PLAN = Path(constants.__file__).parent
#: Module-level numbers elsewhere in hpo/plan that are not tuned: cache format versions, the
#: percentiles a profile reports, and the sample size its lengths are read from.
NOT_TUNED = {"_RATES_VERSION", "_PROFILE_VERSION", "PERCENTILES", "LENGTH_SAMPLE"}


def _numbers(tree: ast.Module) -> dict[str, int]:
    """Module-level names bound to a number or a tuple of numbers, with their line."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and all(
            isinstance(t, (ast.Name, ast.Tuple)) for t in node.targets
        ):
            try:  # arithmetic of literals too (1 / 3); names and calls are no number here
                value = eval(compile(ast.Expression(node.value), "<constant>", "eval"), {})
            except Exception:
                continue
            flat = value if isinstance(value, tuple) else (value,)
            if flat and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in flat):
                for target in node.targets:
                    names = target.elts if isinstance(target, ast.Tuple) else [target]
                    found |= {n.id: node.lineno for n in names if isinstance(n, ast.Name)}
    return found


def test_every_tuned_number_says_where_it_came_from() -> None:
    source = inspect.getsource(constants)
    lines = source.splitlines()
    numbers = _numbers(ast.parse(source))
    assert {"MARGIN", "PRUNED_SHARE", "EVAL_OVERHEAD_SECONDS", "TOLERANCE"} <= set(numbers)
    bare = [name for name, line in numbers.items() if not lines[line - 2].lstrip().startswith("#:")]
    assert not bare, f"constants without a comment saying where they came from: {bare}"


def test_no_planner_module_keeps_numbers_of_its_own() -> None:
    stray = {}
    for path in PLAN.glob("*.py"):
        if path.name == "constants.py":
            continue
        own = set(_numbers(ast.parse(path.read_text(encoding="utf-8")))) - NOT_TUNED
        if own:
            stray[path.name] = sorted(own)
    assert not stray, f"tuned numbers outside hpo/plan/constants.py: {stray}"


def test_the_planner_reads_them_from_here() -> None:
    from hpo.plan import costs, planner

    assert planner.MARGIN is constants.MARGIN and costs.PRUNED_SHARE is constants.PRUNED_SHARE
