"""What a trial maximizes: the metric checked against the data's classes."""

from __future__ import annotations

import pytest

from hpo.errors import ConfigError
from hpo.train.objective import objective_for


def test_objective_for_checks_the_metric_against_the_classes() -> None:
    assert objective_for("f1", ["neg", "pos"]).positive == 1
    assert objective_for("f1", ["neg", "pos"], positive_label="neg").positive == 0
    with pytest.raises(ConfigError, match="positive_label: 'maybe' is not a class"):
        objective_for("f1", ["neg", "pos"], positive_label="maybe")
    with pytest.raises(ConfigError, match="this data has 3"):
        objective_for("f1", ["a", "b", "c"])
    assert objective_for("mcc", ["a", "b", "c"]).title == "Matthews correlation"
