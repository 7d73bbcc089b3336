"""The argument parser: every command the CLI runs has a parser, listed in help order."""

from __future__ import annotations

from hpo.cli.commands import COMMANDS
from hpo.cli.parser import build_parser, command_parsers


def test_every_command_has_a_parser_and_a_function() -> None:
    assert set(command_parsers()) == set(COMMANDS)


def test_config_commands_take_set_overrides() -> None:
    args = build_parser().parse_args(["search", "c.yaml", "--set", "a.b=1", "--set", "c=2"])
    assert args.overrides == ["a.b=1", "c=2"] and args.workers == 1
