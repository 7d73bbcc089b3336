"""What the planner is asked (:class:`PlanRequest`): the config's value of every key a plan may
set or reads, which of them you set, and the training keys a step is costed with.

:func:`hpo.plan.budgeted.plan_budget` builds it from the config (:func:`plan_request`'s
arguments); :func:`hpo.plan.planner.make_plan` reads nothing else of the config, so that what a
plan depends on is this record, not the whole config.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hpo.config.space import ParamSpec

#: The dotted keys a plan sets where you left them open (:meth:`Plan.overrides
#: <hpo.plan.decision.Plan.overrides>`), in the order the plan's table shows them.
PLANNED_KEYS = (
    "data.max_length",
    "data.truncation",
    "search_space.num_train_epochs",
    "training.num_train_epochs",
    "data.max_train_samples",
    "data.max_eval_samples",
    "study.n_trials",
    "study.evals_per_epoch",
    "study.pruner",
    "study.sampler",
)

#: Keys the planner reads but never sets: trials at once, and which model the final stage
#: hands over (``best`` holds validation out of its training).
READ_KEYS = ("study.workers", "study.ship")


@dataclass(frozen=True)
class PlanRequest:
    """The config as the planner sees it."""

    #: The config's value of each of :data:`PLANNED_KEYS` and :data:`READ_KEYS` (a search-space
    #: entry as plain data; None where unset).
    values: Mapping[str, Any]
    #: The dotted keys you set (``HpoConfig.explicit``): the plan leaves them as they are.
    explicit: frozenset[str]
    #: ``search_space``: the strong default's searched values, the widest batch searched.
    search_space: Mapping[str, ParamSpec]
    #: ``training``: the strong default's fixed values, how batches are grouped.
    training: Mapping[str, Any]

    def value(self, key: str) -> Any:
        """The config's value of ``key`` (one of :data:`PLANNED_KEYS` or :data:`READ_KEYS`)."""
        return self.values[key]

    def fixed(self, key: str) -> Any:
        """Your value of ``key``; None where you left it to the planner."""
        return self.values[key] if key in self.explicit else None

    def yours(self, key: str, also: Sequence[str] = ()) -> bool:
        """Whether you set ``key`` (or one of ``also``, which decides it too)."""
        return key in self.explicit or any(k in self.explicit for k in also)


def plan_request(
    value_of: Callable[[str], Any],
    explicit: Collection[str],
    search_space: Mapping[str, ParamSpec],
    training: Mapping[str, Any],
) -> PlanRequest:
    """The request for a config whose keys ``value_of`` reads (``HpoConfig.value_of``)."""
    return PlanRequest(
        values={key: value_of(key) for key in (*PLANNED_KEYS, *READ_KEYS)},
        explicit=frozenset(explicit),
        search_space=dict(search_space),
        training=dict(training),
    )
