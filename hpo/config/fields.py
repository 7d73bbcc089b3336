"""The documentation of every config key, read from the ``#:`` comments above the dataclass
fields of :mod:`hpo.config.schema`, and the config reference page made from it.

The comments are the one source: the docs site's reference is generated from them at build
time (``docs/hooks/config_reference.py``), so it cannot drift from the code, and a test fails
on a field without one.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import textwrap
import typing
from dataclasses import dataclass
from typing import Any

from hpo.config.schema import DataSection, HpoConfig, ModelSection, ParamSpec, StudySection


@dataclass(frozen=True)
class FieldDoc:
    """One config key: its name, type, default and documentation."""

    name: str
    type: str
    default: str
    doc: str


def field_docs(cls: type) -> list[FieldDoc]:
    """The fields of dataclass ``cls`` in order, each with the ``#:`` comment lines above it
    (empty where it has none)."""
    source = textwrap.dedent(inspect.getsource(cls))
    lines = source.splitlines()
    comments: dict[str, str] = {}
    for node in ast.parse(source).body[0].body:  # type: ignore[attr-defined]
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            doc: list[str] = []
            row = node.lineno - 2
            while row >= 0 and lines[row].strip().startswith("#:"):
                doc.insert(0, lines[row].strip()[2:].strip())
                row -= 1
            comments[node.target.id] = " ".join(doc)
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            default = repr(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            default = repr(f.default_factory())
        else:
            default = "required"
        out.append(FieldDoc(f.name, _type_name(hints[f.name]), default, comments.get(f.name, "")))
    return out


def markdown(doc: str) -> str:
    """A docstring-style comment as markdown: ````x```` and ``:role:`x``` become code spans."""
    return re.sub(r":[a-z]+:`~?([^`]+)`", r"`\1`", doc.replace("``", "`"))


def _type_name(annotation: Any) -> str:
    text = str(annotation).replace("typing.", "")
    for raw, plain in (("<class '", ""), ("'>", ""), ("NoneType", "None")):
        text = text.replace(raw, plain)
    return text


#: The sections of the reference page, in config order: key -> (dataclass, heading text).
SECTIONS: dict[str, tuple[type, str]] = {
    "study": (StudySection, "Where the trials live and how Optuna picks and stops them."),
    "model": (ModelSection, "The backbone to fine-tune."),
    "data": (DataSection, "The examples, their labels, splits and tokenization."),
    "search_space": (
        ParamSpec,
        "One entry per searched `TrainingArguments` field, with Optuna's own argument names.",
    ),
}


def reference_markdown() -> str:
    """The config reference as markdown: a table per section, then ``training`` and
    ``reference``."""
    top = {f.name: f for f in field_docs(HpoConfig)}
    lines: list[str] = []
    for key, (cls, intro) in SECTIONS.items():
        lines += [f"## `{key}`", "", intro, ""]
        if key == "search_space":
            lines += [
                "```yaml",
                "search_space:",
                "  learning_rate: {type: float, low: 1.0e-5, high: 1.0e-4, log: true}",
                "```",
                "",
            ]
        lines += ["| key | type | default | what it does |", "| --- | --- | --- | --- |"]
        for f in field_docs(cls):
            cells = [f"`{f.name}`", f"`{f.type}`", f"`{f.default}`", markdown(f.doc)]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        lines.append("")
    for key in ("training", "reference"):
        lines += [f"## `{key}`", "", markdown(top[key].doc), ""]
    return "\n".join(lines)
