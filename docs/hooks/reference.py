"""MkDocs hook: fill the generated reference pages when the site is built.

``<!-- config-reference -->`` becomes the config reference made from the dataclasses' field
comments (:func:`hpo.config.fields.reference_markdown`); ``<!-- cli-reference -->`` becomes
the help of every ``hpo`` command, from the argument parser itself.
"""

from __future__ import annotations

from typing import Any

from hpo.cli.parser import build_parser, command_parsers
from hpo.config.fields import reference_markdown


def cli_markdown() -> str:
    """Each subcommand's ``--help``, as a section with a code block."""
    out = ["## `hpo`", "", "```text", build_parser().format_help().rstrip(), "```", ""]
    for name, sub in command_parsers().items():
        out += [f"## `hpo {name}`", "", "```text", sub.format_help().rstrip(), "```", ""]
    return "\n".join(out)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Replace the placeholders of the reference pages."""
    markdown = markdown.replace("<!-- config-reference -->", reference_markdown())
    return markdown.replace("<!-- cli-reference -->", cli_markdown())
