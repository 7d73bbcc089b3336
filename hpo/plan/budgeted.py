"""A budgeted run: plan it and keep the plan's clock.

:func:`plan_budget` profiles the data, measures the machine, makes the plan and returns the
config the plan resolves (the user's keys as they were, the planner's filled in).
:class:`StageClock` times each stage against the plan and keeps ``runs/<study>/plan.json``
up to date. Re-planning as the run goes (when the search ends, the final stage's epochs) is
:mod:`hpo.plan.replan`'s.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpo.config.budget import parse_budget
from hpo.config.reference import strong_default
from hpo.config.validate import config_from_dict
from hpo.errors import config_source
from hpo.plan.check import (
    RateCheck,
    check_rates,
    check_seconds,
    rates_seen_now,
)
from hpo.plan.constants import KEEP_WHOLE, LENGTHS, MARGIN, MAX_CHECKS
from hpo.plan.decision import Plan
from hpo.plan.measure import grid_for, measure_machine
from hpo.plan.planner import make_plan
from hpo.plan.profile import DataProfile, profile_data
from hpo.plan.request import plan_request
from hpo.runs import write_atomically
from hpo.train.settings import setting

if TYPE_CHECKING:
    import optuna

    from hpo.config.schema import HpoConfig
    from hpo.plan.rates import MachineRates

logger = logging.getLogger(__name__)


def plan_budget(
    config: HpoConfig, *, with_reference: bool, saved: Path | None = None
) -> tuple[HpoConfig, Plan, DataProfile]:
    """Profile, measure, check, plan: the planned config, the plan and the data's profile.

    ``saved``: a run's ``plan.json``; when it was planned from the same config (a rerun of the
    same job, or ``hpo plan`` after it), its plan is used again, so a resumed study keeps the
    settings it was started with and pays for no second measurement.
    """
    from hpo.train.model import load_model_config, load_tokenizer

    given = config.to_dict()  # the config before the plan: the plan's inputs, and its base

    def resolved(plan: Plan) -> HpoConfig:
        return apply_plan(given, plan, source=config.source, explicit=config.explicit)

    request = plan_request(config.value_of, config.explicit, config.search_space, config.training)
    inputs = plan_inputs(given, config.explicit, with_reference=with_reference)
    tokenizer = load_tokenizer(config.model)
    profile = profile_data(config.data, tokenizer)
    plan = _saved_plan(saved, inputs) if saved is not None else None
    if plan is not None:
        logger.info("Using the plan this job was started with (%s).", saved)
        return resolved(plan), plan, profile
    budget = parse_budget(config.study.budget or 0)
    model_max = int(getattr(load_model_config(config.model), "max_position_embeddings", 512))
    model_max = min(model_max, LENGTHS[-1])
    # The machine is measured up to the longest length the plan can choose: the data's whole
    # length (short texts need no long steps measured), or the user's own.
    longest = next(
        (n for n in LENGTHS if n <= model_max and profile.share_cut(n) <= 1 - KEEP_WHOLE),
        model_max,
    )
    if "data.max_length" in config.explicit:
        longest = config.data.max_length
    setup = config.trainer_setup  # what measuring and checking the machine train with
    rates = measure_machine(
        setup,
        profile.labels,
        grid_for(min(longest, model_max)),
        cache_dir=config.data.cache_dir,
    )

    def planned(rates: MachineRates, spent: float, final: MachineRates | None = None) -> Plan:
        return make_plan(
            request,
            profile,
            rates,
            budget,
            model_max_length=model_max,
            with_reference=with_reference,
            spent_seconds=spent,
            final_rates=final,
        )

    # What profiling and measuring cost in this call (nothing where they came from the cache:
    # a job that finds them cached does not spend them, and `hpo plan` leaves them cached for
    # the run after it), and what the checks are planned to cost.
    spent = profile.profile_seconds + rates.measured_seconds + 5.0
    plan = planned(rates, spent)

    def charged(seen: list[RateCheck]) -> float:
        return sum(check_seconds(rates, c.length) for c in seen)

    # No search: the final stage trains the strong default at its batch (32, unless the config
    # fixes another), which the machine was not measured at (per example a larger batch costs
    # less, most at short lengths). Timed there, the plan fills the budget at what the final
    # stage will cost; the run reuses the check (:func:`hpo.plan.replan.final_machine`).
    default = {**config.training, **strong_default(config.search_space, config.training)}
    batch = int(setting("per_device_train_batch_size", {}, default).value)

    def times_final(plan: Plan) -> bool:
        return (
            not plan.facts["search"]["chosen"]
            and bool(plan.facts.get("final_keep_best"))
            and batch != rates.train_batch
        )

    checks: list[RateCheck] = []
    # Where the machine's speed cannot bring a search in (the validation split or you ruled it
    # out), nothing trains at the measured batch: the final stage's is the only one timed.
    if not times_final(plan) or plan.facts["search"].get("by_rates", True):
        plan, checks = check_lengths(
            plan,
            lambda length: check_rates(setup, profile, rates, length),
            lambda seen: planned(rates_seen_now(rates, seen), spent + charged(seen)),
        )
        spent += charged(checks)
        rates = rates_seen_now(rates, checks)
    final_checks: list[RateCheck] = []
    if times_final(plan):
        length = int(plan.value("data.max_length"))
        final_checks.append(check_rates(setup, profile, rates, length, batch=batch))
        spent += check_seconds(rates, length, batch=batch)
        scaled = rates.scaled(final_checks[0].train_ratio, final_checks[0].eval_ratio)
        plan = planned(rates, spent, dataclasses.replace(scaled, train_batch=batch))
    facts = {
        **plan.facts,
        "inputs": inputs,
        "checks": [c.to_dict() for c in [*checks, *final_checks]],
        "profile": profile.to_dict(),
        "machine": rates.to_dict(),
    }
    plan = dataclasses.replace(plan, facts=facts)
    return resolved(plan), plan, profile


def plan_inputs(given: Mapping[str, Any], explicit: Iterable[str], *, with_reference: bool) -> str:
    """A digest of what a plan is made from on the user's side: the config as given
    (``HpoConfig.to_dict()`` before the planner filled it in), the keys set explicitly, and
    whether the reference retrains."""
    record = {"config": given, "explicit": sorted(explicit), "with_reference": with_reference}
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()


def _read_json(path: Path) -> dict:
    """The JSON object in ``path``; {} where there is none or it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _saved_plan(path: Path, inputs: str) -> Plan | None:
    """The plan in ``path`` when it was made from the same inputs (None otherwise)."""
    data = _read_json(path)
    if data.get("inputs") != inputs:
        return None
    try:
        return Plan.from_dict(data)
    except (KeyError, TypeError, ValueError):
        logger.warning("Ignoring an unreadable plan %s; planning afresh.", path)
        return None


def apply_plan(
    raw: Mapping[str, Any], plan: Plan, *, source: str, explicit: Iterable[str]
) -> HpoConfig:
    """The config ``raw`` (``HpoConfig.to_dict()``, read from ``source``) with the planner's
    values set, checked like any config; the keys you set (``explicit``) stay yours."""
    out = {name: dict(value) if isinstance(value, dict) else value for name, value in raw.items()}
    for key, value in plan.overrides().items():
        section, _, name = key.partition(".")
        out.setdefault(section, {})[name] = value
        if key == "search_space.num_train_epochs":
            out.get("training", {}).pop("num_train_epochs", None)
    with config_source(source):
        planned = config_from_dict(out, source=source)
    return dataclasses.replace(planned, explicit=frozenset(explicit))


def check_lengths(
    plan: Plan, check: Callable[[int], RateCheck], again: Callable[[list[RateCheck]], Plan]
) -> tuple[Plan, list[RateCheck]]:
    """The plan after checking the machine at the length it picks (``check``), and the checks.

    Where the rates seen there make the plan (made ``again`` from the checks so far, their
    seconds charged) pick another length, that one is checked too, up to :data:`MAX_CHECKS`: a
    ratio seen at one length says less of another the further it is. Where the checks confirm
    the cached rates, the plan moves only by their charged seconds, and the length it moves to
    is not checked again (each check would move it once more).
    """
    checks: dict[int, RateCheck] = {}
    while len(checks) < MAX_CHECKS:
        length = int(plan.value("data.max_length"))
        if length in checks:
            break
        checks[length] = check(length)
        plan = again(list(checks.values()))
        if not any(c.applies for c in checks.values()):
            break
    return plan, list(checks.values())


class StageClock:
    """Each stage's actual seconds beside its planned ones, in ``plan.json`` as it goes."""

    def __init__(self, path: Path, plan: Plan, started: float, *, resumed: bool = False) -> None:
        """``resumed``: a part of a job whose earlier part, started at the same ``started``,
        wrote ``path``; its stages' seconds and events are kept."""
        self.path, self.plan, self.started = path, plan, started
        self.actual: dict[str, float] = {"prepare": time.time() - started}
        self.events: list[str] = []
        earlier = _read_json(path) if resumed else {}
        if earlier.get("started") == started:
            self.actual = {k: float(v) for k, v in earlier.get("actual_seconds", {}).items()}
            self.events = list(earlier.get("events", []))
        self.write()

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the stage ``name``; ``plan.json`` is rewritten when it ends."""
        start = time.time()
        try:
            yield
        finally:
            self.actual[name] = self.actual.get(name, 0.0) + time.time() - start
            self.write()

    def note(self, text: str) -> None:
        """Something the run did to keep the deadline (in ``plan.json`` and the report)."""
        logger.info("%s", text)
        self.events.append(text)
        self.write()

    def left(self) -> float:
        """Seconds left of the budget (less its margin)."""
        return self.started + self.plan.budget_seconds * (1 - MARGIN / 2) - time.time()

    def write(self) -> None:
        """Write ``plan.json``: the plan, the actual seconds so far, what was adjusted."""
        record = self.plan.to_dict() | {
            "started": self.started,
            "actual_seconds": {k: round(v, 1) for k, v in self.actual.items()},
            "elapsed_seconds": round(time.time() - self.started, 1),
            "events": self.events,
        }
        write_atomically(self.path, json.dumps(record, indent=1) + "\n")


def save_plan_on_study(study: optuna.Study, plan: Plan) -> None:
    """The plan's choices and stages on the study's user attrs (what the dashboard shows)."""
    record = plan.to_dict()
    record.pop("profile", None)
    record.pop("machine", None)
    study.set_user_attr("plan", record)
