"""``study.budget`` and ``--budget``: a wall-clock budget for the whole ``hpo run``.

Written as a number with a unit (``90s``, ``45m``, ``1.5h``, ``1h30m``) or a bare number of
seconds. The planner (:mod:`hpo.plan`) fits the job into it.
"""

from __future__ import annotations

import re

from hpo.errors import ConfigError

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smh])")

#: What the error message offers when a budget cannot be read.
ACCEPTED = "a number with a unit s, m or h (90s, 45m, 1.5h, 1h30m) or a number of seconds"


def parse_budget(value: str | int | float, *, where: str = "study.budget") -> float:
    """Seconds in a budget written as ``45m``, ``1h30m``, ``90s`` or a bare number of seconds.

    Raises :class:`ConfigError` naming ``where`` and the accepted forms.
    """
    if isinstance(value, bool):
        raise ConfigError(f"{where}: expected {ACCEPTED}, got {value!r}.")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = str(value).strip().lower().replace(" ", "")
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            seconds = float(text)
        elif text and re.fullmatch(rf"(?:{_PART.pattern})+", text):
            seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))
        else:
            raise ConfigError(f"{where}: expected {ACCEPTED}, got {value!r}.")
    if not seconds > 0:
        raise ConfigError(f"{where}: the budget must be more than 0 seconds, got {value!r}.")
    return seconds


def format_minutes(seconds: float) -> str:
    """``seconds`` as a person reads a duration: ``45 s``, ``7.4 min``, ``1 h 05 min``."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    hours, rest = divmod(round(seconds / 60), 60)
    return f"{hours} h {rest:02d} min"
