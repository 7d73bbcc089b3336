"""The error tree: a ConfigError names its file once, wherever it was raised."""

from __future__ import annotations

import pytest

from hpo.errors import ConfigError, HpoError, config_source


def test_config_source_puts_the_file_in_front_once() -> None:
    with pytest.raises(ConfigError) as info, config_source("outer.yaml"), config_source("a.yaml"):
        raise ConfigError("data.max_length must be >= 8 tokens, got 4.")
    assert str(info.value) == "a.yaml: data.max_length must be >= 8 tokens, got 4."
    assert info.value.source == "a.yaml"


def test_an_error_that_names_its_own_source_keeps_it() -> None:
    with pytest.raises(ConfigError) as info, config_source("a.yaml"):
        raise ConfigError("malformed YAML at line 2, column 1: x.", source="--set study.name")
    assert str(info.value).startswith("--set study.name: malformed YAML")


def test_other_errors_pass_through_unchanged() -> None:
    with pytest.raises(HpoError, match=r"^no study"), config_source("a.yaml"):
        raise HpoError("no study 'x'")
    assert ConfigError("x").exit_code == 2
