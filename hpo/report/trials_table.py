"""``hpo trials``: a study's trials as a table for a terminal (and the report's search section)."""

from __future__ import annotations

import json

import optuna

from hpo.search.resilient import fail_reason
from hpo.search.trials import short_params


def trials_table(study: optuna.Study, metric: str = "accuracy") -> str:
    """One row per trial: number, state, the validation metric, duration and params, aligned
    for a terminal; a FAILED trial's row ends with why it failed."""
    header = ["#", "state", metric, "seconds", "params"]
    rows = []
    for t in study.get_trials(deepcopy=False):
        seconds = f"{t.duration.total_seconds():.1f}" if t.duration is not None else "-"
        value = f"{t.value:.4f}" if t.value is not None else "-"
        if t.value is None and t.intermediate_values:
            value = f"({max(t.intermediate_values.values()):.4f})"
        params = json.dumps(short_params(t.params))
        if t.state == optuna.trial.TrialState.FAIL and (reason := fail_reason(study, t)):
            params += f"  failed: {reason}"
        rows.append([str(t.number), t.state.name, value, seconds, params])
    if not rows:
        return f"study {study.study_name!r} has no trials yet."
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    lines = []
    for r in [header, *rows]:
        cells = [c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)]
        lines.append("  ".join([*cells, r[-1]]))
    return "\n".join(lines)
