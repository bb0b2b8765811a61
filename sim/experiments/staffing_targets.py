"""Service targets for ``run.py staff``: the targets file, what can be targeted, and shortfalls.

A targets file (TOML) has one table per kind of target; each table holds a ``default`` for
every key it applies to and per-key overrides:

```toml
[capacity_use_max]         # hours worked / most hours staff can give (overtime cap included)
default = 0.85
leadership = 0.9
[wait_probability_max]     # share of visits that wait at all (Erlang C's P(wait)), per unit kind
default = 0.5
[hours_worked_max]         # hours worked per staff member per week, per unit kind
default = 50.0
[sla_attainment_min]       # per SLA key (or request kind with an SLA)
incident_resolution_24h = 0.8
[p90_hours_max]            # 90th percentile of resolution hours, per request category
dispute = 120.0
```

A unit-kind ``default`` applies to the unit kinds being optimised; a key naming any other unit
kind of the scenario is checked too (and reported as not attainable if staffing the units in
scope cannot meet it). ``TARGETABLE`` is the one list of what can be targeted: adding a KPI is
one line there (plus an analytic rule in ``staffing_queues`` if Erlang C can say anything
about it).
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.errors import ScenarioError
from sim.scenario.loading import read_toml
from sim.scenario.schema import MAX_HOURS, Field, check_table


@dataclass(frozen=True)
class Targetable:
    """One kind of target: the targets-file table, the flattened KPI it bounds, and how."""

    table: str  # key in the targets file
    kpi: str  # flattened KPI name with ``{key}`` for the unit kind, SLA key or category
    sense: str  # "max": the KPI must be at most the target; "min": at least
    scope: str  # what the keys name: "unit" (unit kinds), "sla" (SLA keys), "category"
    value: Field  # the target's allowed values
    help: str
    optional: bool = False  # a KPI some model versions do not produce (checked after the pilot run)


SHARE = Field("number", minimum=0, maximum=1)
POSITIVE_SHARE = Field("number", minimum=0, exclusive_minimum=True, maximum=1)
WEEK_HOURS = Field("number", minimum=0, exclusive_minimum=True, maximum=168)
RESOLUTION_HOURS = Field("number", minimum=0, exclusive_minimum=True, maximum=MAX_HOURS)

TARGETABLE: tuple[Targetable, ...] = (
    Targetable("utilisation_max", "utilisation_by_unit.{key}", "max", "unit", POSITIVE_SHARE,
               "busy share of open server time of a unit kind"),
    Targetable("wait_probability_max", "wait_probability.{key}", "max", "unit", SHARE,
               "share of visits arriving while the unit is open that wait for a server (Erlang C)"),
    Targetable("capacity_use_max", "capacity_use.{key}", "max", "unit", POSITIVE_SHARE,
               "hours worked / the most hours staff can give (contract less leave, plus the overtime cap)"),
    Targetable("hours_worked_max", "hours_worked_per_week.by_unit.{key}", "max", "unit", WEEK_HOURS,
               "hours worked per staff member per week (request work and duties)"),
    Targetable("hours_at_work_max", "hours_at_work_per_week.by_unit.{key}", "max", "unit", WEEK_HOURS,
               "hours at work per staff member per week", optional=True),
    Targetable("sla_attainment_min", "sla_attainment.{key}.attainment", "min", "sla", SHARE,
               "share of requests meeting the request kind's service-level target"),
    Targetable("p90_hours_max", "resolution_hours.{key}.p90", "max", "category", RESOLUTION_HOURS,
               "90th percentile of hours from creation to resolution, per request category"),
    Targetable("mean_hours_max", "resolution_hours.{key}.mean", "max", "category", RESOLUTION_HOURS,
               "mean hours from creation to resolution, per request category"),
)
BY_TABLE = {t.table: t for t in TARGETABLE}
COMPUTED = ("wait_probability.", "capacity_use.")
"""Computed by the optimiser from the run (``staffing_queues.measure``), not KPIs of ``kpis.json``."""

SCHEMA = {
    "name": Field("str", None, help="a name for this set of targets"),
    "description": Field("str", "", help="what the targets stand for"),
    **{t.table: Field("map", None, values=t.value, help=t.help) for t in TARGETABLE},
}


@dataclass(frozen=True)
class Target:
    """One concrete target: a KPI of the run, a bound, and where it came from in the file."""

    table: str
    key: str  # unit kind, SLA key or category
    kpi: str  # flattened KPI name
    sense: str
    bound: float
    optional: bool = False

    @property
    def label(self) -> str:
        return f"{self.table}.{self.key}"

    def met(self, value: float) -> bool:
        """A missing value (NaN: nothing resolved in the category, say) does not meet a target."""
        if math.isnan(value):
            return False
        return value <= self.bound if self.sense == "max" else value >= self.bound

    def shortfall(self, value: float) -> float:
        """How far the value misses the target, as a share of the target (0 when met).

        Why relative: targets in hours, shares and probabilities then add up to one total the
        greedy search can trade across units; a missing value counts as missing by 100 %."""
        if math.isnan(value):
            return 1.0
        gap = value - self.bound if self.sense == "max" else self.bound - value
        return max(0.0, gap) / (self.bound if self.bound > 0 else 1.0)


@dataclass(frozen=True)
class Targets:
    path: str
    name: str
    targets: tuple[Target, ...]

    def kpis(self) -> list[str]:
        return list(dict.fromkeys(t.kpi for t in self.targets))


def sla_keys(config: dict[str, Any]) -> dict[str, str]:
    """SLA key (as in the KPI ``sla_attainment``) -> request kind, for every kind with an SLA."""
    return {f"{name}_{r['sla_measure']}_{r['sla_hours']:g}h": name
            for name, r in config["requests"].items() if r.get("sla_hours") is not None}


def categories(config: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys(r["category"] for r in config["requests"].values()))


def _unknown(path: str, key: str, what: str, name: str, allowed: list[str]) -> ScenarioError:
    close = difflib.get_close_matches(name, allowed, n=3)
    hint = f" (closest: {', '.join(close)})" if close else ""
    listed = ", ".join(allowed) if allowed else "none in this scenario"
    return ScenarioError(path, key, f"unknown {what} {name!r}{hint}; allowed: default, {listed}")


def load_targets(path: str | Path, config: dict[str, Any], scope: list[str]) -> Targets:
    """Read and validate a targets file against the resolved scenario; one line on any error.

    Args:
        path: the targets TOML file.
        config: the resolved scenario (keys are checked against its unit kinds, SLAs and
            request categories).
        scope: the unit kinds being optimised (a unit-kind ``default`` applies to these).
    """
    path = Path(path)
    text = str(path)
    if not path.is_file():
        raise ScenarioError(text, "", "no such targets file")
    cfg = check_table(read_toml(path), SCHEMA, text, "")
    slas = sla_keys(config)
    by_kind = {kind: key for key, kind in slas.items()}
    allowed = {"unit": list(config["units"]), "sla": list(slas), "category": categories(config)}
    words = {"unit": "unit kind", "sla": "SLA key", "category": "request category"}
    targets: list[Target] = []
    for spec in TARGETABLE:
        table = cfg[spec.table]
        if table is None:
            continue
        if not table:
            raise ScenarioError(text, spec.table, "is empty; give `default = ...` or per-key targets")
        keys: dict[str, float] = {}
        if "default" in table:
            defaults = scope if spec.scope == "unit" else allowed[spec.scope]
            keys.update(dict.fromkeys(defaults, table["default"]))
        for name, bound in table.items():
            if name == "default":
                continue
            key = name
            if spec.scope == "sla" and name not in slas and name in by_kind:
                key = by_kind[name]  # a request kind stands for its SLA
            if key not in allowed[spec.scope]:
                raise _unknown(text, f"{spec.table}.{name}", words[spec.scope], name, allowed[spec.scope])
            keys[key] = bound
        targets += [Target(spec.table, key, spec.kpi.format(key=key), spec.sense, float(bound), spec.optional)
                    for key, bound in keys.items()]
    if not targets:
        raise ScenarioError(text, "", "names no target; give at least one of the tables "
                            + ", ".join(t.table for t in TARGETABLE))
    return Targets(text, cfg["name"] or path.stem, tuple(targets))


def check_available(targets: Targets, measured: dict[str, float]) -> None:
    """A target on a KPI this model version does not produce is one line, after the pilot run."""
    for target in targets.targets:
        if target.kpi not in measured:
            spec = BY_TABLE[target.table]
            raise ScenarioError(targets.path, target.table, f"this model's runs have no KPI "
                                f"{spec.kpi.format(key='<kind>')} (for {target.key}); remove the table "
                                "or use a model version that reports it")
