"""The plan as a person reads it: what was decided (and by whom), and what each stage takes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hpo.config.budget import format_minutes


def _value(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
    return "null" if value is None else str(value)


def render_plan(plan: Mapping[str, Any]) -> str:
    """``plan`` (:meth:`hpo.plan.decision.Plan.to_dict`, or a ``plan.json``) as text tables."""
    budget = plan["budget_seconds"]
    lines = [
        f"Plan for a budget of {format_minutes(budget)} "
        f"({format_minutes(plan['planned_seconds'])} planned):",
        "",
    ]
    search = plan.get("search")
    if search:
        # A "no search" reason says so itself.
        lines += [f"Search: {'yes: ' if search['chosen'] else ''}{search['why']}", ""]
    rows = [(c["key"], _value(c["value"]), c["by"], c["why"]) for c in plan["choices"]]
    widths = [max(len(r[i]) for r in [("key", "value", "set by", ""), *rows]) for i in range(3)]
    lines.append(f"  {'key':<{widths[0]}}  {'value':<{widths[1]}}  {'set by':<{widths[2]}}  why")
    for key, value, by, why in rows:
        lines.append(f"  {key:<{widths[0]}}  {value:<{widths[1]}}  {by:<{widths[2]}}  {why}")
    lines += ["", f"  {'stage':<10}  {'planned':>9}  what"]
    for stage in plan["stages"]:
        planned = format_minutes(stage["seconds"])
        lines.append(f"  {stage['name']:<10}  {planned:>9}  {stage['what']}")
    for note in plan.get("notes", []):
        lines.append(f"  note: {note}")
    return "\n".join(lines)


def planned_against_actual(plan: Mapping[str, Any]) -> list[tuple[str, float, float | None]]:
    """(stage, planned seconds, actual seconds or None) for every planned stage."""
    actual = plan.get("actual_seconds", {})
    return [(s["name"], s["seconds"], actual.get(s["name"])) for s in plan["stages"]]
