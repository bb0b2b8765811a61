"""Regression guard: with every new mechanism switched off, a fixed seed gives exactly the
results the model gave before them.

The fingerprints were computed by this same code at commit ac5f918 (before the layer move, the
input checks and the holiday calendars). The presets now have a working day (duties, overtime,
leave: ``[workday.LEVEL]`` in common/city.toml); ``simulation.working_day = false`` switches it
off, and these runs do. Approvals became desk work (``sim.city.approvals``) with new preset values;
``simulation.approval_work = false`` puts the review back at the counter, and ``BEFORE_APPROVALS``
restores the values the presets had before. The presets are on a map (``sim.city.geo``);
``geography.model = "line"`` puts every agent back on the line. Grid workers' reports come from
places (``rate_basis = "residents"``); ``"origin"`` and the old rates restore them. Residents
decide (``[behaviour]``); switching its rules off plans every request in blocks as before. A change that
is meant to move results must say so in its commit and update them; one that is not meant to,
must leave them alone.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from sim.experiments.api import run_scenario
from sim.outputs.files import request_table
from tests.conftest import SCENARIOS

# preset: (request log, KPIs, requests created), seed 5, scale 0.002, 60 days. The request logs'
# hashes are those of ac5f918; the KPI hashes were re-based (floats to 10 digits) when a NumPy
# update moved the backlog slope's last bits (np.polyfit, now a closed form); the rounded hashes
# are the same under NumPy 2.4.4 and 2.5.5.
FINGERPRINTS = {
    "township": ("e1550978469060cf", "819f177f4e6194af", 71643),
    "longgang-2019": ("ca378c79e61a0d81", "1a22124c3a330e10", 75441),
    "longgang-2021": ("0ab94c302054b361", "05ad0a1f5c1076d3", 71574),
    "staff-cut-only": ("0b5b5801fc9168a3", "c9e1569f1f8eba21", 71643),
}


KPIS_BEFORE = {  # the KPI keys of ac5f918
    "requests_created", "requests_resolved", "requests_open", "kpi_window_days", "resolution_hours",
    "resolution_hours_by_kind", "cohort_resolution_days_by_kind", "share_resolved_by_level",
    "flow_entry_to_solved", "bounces_by_level", "units", "handoffs_per_request", "bounces_per_request",
    "trips_per_request", "staff_minutes_per_request", "staff_total", "staff_government", "staff_by_level",
    "approval_staff", "enforcement_staff", "staff_cost", "staff_utilisation", "utilisation_by_unit",
    "sla_attainment", "backlog_end", "backlog_by_day", "backlog_growth_per_100_days",
    "share_high_frequency_in_community", "share_resolved_community_or_below", "cost_per_resolved_request",
}


BEFORE_APPROVALS = {  # preset values before approvals were desk work: (service, review periods)
    "firm_registration": (20.0, [15.0, 12.0, 15.0, 13.0]),
    "licence": (30.0, [5.0]),
    "investment_project": (90.0, [5.0, 15.0, 10.0, 10.0, 15.0]),
    "low_risk_project": (45.0, [2.0, 5.0, 5.0]),
}


def old_values(name: str) -> dict[str, object]:
    """Overrides that switch the working day and approval work off and restore older values."""
    out: dict[str, object] = {"simulation.working_day": False, "simulation.approval_work": False,
                              "geography.model": "line",
                              "behaviour.channels.enabled": False, "behaviour.patience.enabled": False,
                              "behaviour.firms.enabled": False, "behaviour.patrols.enabled": False,
                              "behaviour.redeployment.enabled": False, "behaviour.whistle.enabled": False,
                              # grid workers' reports per worker again, not from places
                              "requests.incident.rate_basis": "origin",
                              "requests.incident.rate_per_year": 365.0,
                              "requests.patrol_case.rate_basis": "origin",
                              "requests.patrol_case.rate_per_year": 25.0,
                              # hand-offs on the clock, one misroute share, the first unit's service
                              # at every level, the four-week warm-up
                              "handoff.working_time": False, "handoff.escalated_service": "same",
                              "simulation.warmup_days": 28, "simulation.warmup_cap_share": 0.25}
    for kind, (service, lead) in BEFORE_APPROVALS.items():
        out[f"requests.{kind}.service_minutes"] = service
        out[f"requests.{kind}.lead_days"] = lead
        out[f"requests.{kind}.review_minutes"] = [0.0] * len(lead)
    if name != "longgang-2021":  # (its platform reform sets the misroute rule itself)
        out["handoff.misroute_rule"], out["handoff.misroute_share"] = "share", 0.10
    if name.startswith("longgang"):
        out["reforms.one_seal.review_overlap"] = 0.7  # was calibrated so registration took 40 days
        out["reforms.grids.knowledge"] = 0.6  # before it was fitted to E3 on the 2019 stage
    return out


def fingerprint(name: str) -> tuple[str, str, int]:
    result = run_scenario(SCENARIOS / f"{name}.toml", seed=5, scale=0.002, days=60,
                          overrides=old_values(name))
    model = result.model
    table = request_table(result.tables, [k.name for k in model.kinds], model.structure.unit_names)
    log = hashlib.sha256()
    for column in ("created_h", "resolved_h", "solved_unit", "kind"):
        log.update("|".join(map(str, table.column(column).to_pylist())).encode())
    before = {k: _rounded(v) for k, v in result.kpis.items() if k in KPIS_BEFORE}  # later KPIs are new
    kpis = hashlib.sha256(json.dumps(before, sort_keys=True, default=str).encode()).hexdigest()
    return log.hexdigest()[:16], kpis[:16], result.kpis["requests_created"]


def _rounded(value: object) -> object:
    """Floats to 10 significant digits: the KPIs' last bits may differ between NumPy or LAPACK
    builds (a sum's order), which is not a change of the model; the request log is hashed exactly."""
    if isinstance(value, float):
        return float(f"{value:.10g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


@pytest.mark.parametrize("name", sorted(FINGERPRINTS))
def test_presets_give_the_results_they_gave_before(name: str) -> None:
    assert fingerprint(name) == FINGERPRINTS[name]
