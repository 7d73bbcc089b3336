"""``study.budget`` / ``--budget``: the forms it accepts and the message for the others."""

from __future__ import annotations

import pytest

from hpo.config.budget import format_minutes, parse_budget
from hpo.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("45m", 2700),
        ("1h30m", 5400),
        ("1.5h", 5400),
        ("90s", 90),
        ("90", 90),
        (" 2 m ", 120),
        ("1h 5m 10s", 3910),
        (600, 600),
        (2.5, 2.5),
    ],
)
def test_accepted_forms(text: object, seconds: float) -> None:
    assert parse_budget(text) == seconds


@pytest.mark.parametrize("text", ["", "45 minutes", "m", "-5m", "0", "0m", "1d", True, "1h-5m"])
def test_refused_forms_name_the_key_and_the_forms(text: object) -> None:
    with pytest.raises(ConfigError) as err:
        parse_budget(text, where="--budget")
    message = str(err.value)
    assert message.startswith("--budget: ")
    assert "45m" in message or "more than 0" in message


@pytest.mark.parametrize(
    ("seconds", "text"), [(12, "12 s"), (90, "1.5 min"), (3900, "1 h 05 min"), (7200, "2 h 00 min")]
)
def test_format_minutes(seconds: float, text: str) -> None:
    assert format_minutes(seconds) == text


def test_a_config_with_a_bad_budget_fails_at_load(make_config) -> None:
    from hpo.api import load_config

    path = make_config({"study": {"budget": "soon"}})
    with pytest.raises(ConfigError, match=r"study\.budget: expected .*45m"):
        load_config(path, check_training=False)
