"""``validate``: run the presets with replications and compare with the reported facts.

Each check names its fact id, the reported value, how the simulated figure is computed, the
tolerance, and pass/fail on the replication mean (with its 95 % confidence interval shown).
Replication r of every preset uses seed r (common random numbers), so differences between
presets are not blurred by independent noise.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim.experiments.executors import Job, run_jobs
from sim.outputs.files import atomic_write_bytes
from sim.outputs.stats import mean_ci

PRESETS = ("township", "staff-cut-only", "longgang-2019", "longgang-2021")
Runs = dict[str, list[dict[str, Any]]]  # preset -> KPIs per replication


KINDS = ("input", "calibrated", "predicted")
"""What a check can show: *input*, true by configuration; *calibrated*, a parameter was fitted
to it (named in the check); *predicted*, nothing was fitted to it. Only a prediction tests the
model; the others show that the configuration and the fit hold."""


@dataclass(frozen=True)
class Check:
    fact: str
    what: str
    reported: str
    tolerance: str
    value: Callable[[Runs, int], float]  # simulated figure in replication r
    passes: Callable[[float], bool]
    kind: str = "predicted"


def _kpi(preset: str, *path: str) -> Callable[[Runs, int], float]:
    def get(runs: Runs, r: int) -> float:
        """The KPI, or NaN where the run has none (e.g. hours at work without a working day: the
        check then fails instead of the command)."""
        node: Any = runs[preset][r]
        for key in path:
            if not isinstance(node, dict) or key not in node:
                return math.nan
            node = node[key]
        return math.nan if node is None else float(node)

    return get


def _net_entities_three_years(preset: str) -> Callable[[Runs, int], float]:
    """Registrations completed less exits, a year, times three (B3's first three years)."""
    made, left = (_kpi(preset, "behaviour", "firms", k) for k in ("registrations_per_year", "exits_per_year"))
    return lambda runs, r: 3.0 * (made(runs, r) - left(runs, r))


def _ratio(a: Callable[[Runs, int], float], b: Callable[[Runs, int], float]) -> Callable[[Runs, int], float]:
    return lambda runs, r: a(runs, r) / b(runs, r)


def _slower_by(preset: str, others: tuple[str, ...]) -> Callable[[Runs, int], float]:
    """How many times longer ``preset`` takes than the *slower* of ``others``, per request
    category (mean resolution hours), combined as a geometric mean over categories.

    Why this shape: being slower than the slower of the others means slower than all of them;
    categories count equally (request-weighting would let the many quick incidents decide);
    a geometric mean is the mean that treats 2x and 0.5x symmetrically."""

    def ratio(runs: Runs, r: int) -> float:
        mine = runs[preset][r]["resolution_hours"]
        logs = []
        for category, stats in mine.items():
            theirs = [runs[o][r]["resolution_hours"].get(category, {}).get("mean") for o in others]
            if stats["mean"] and all(theirs):
                logs.append(math.log(stats["mean"] / max(theirs)))
        return math.exp(sum(logs) / len(logs))

    return ratio


def _on_scene_median_minutes(preset: str) -> Callable[[Runs, int], float]:
    def get(runs: Runs, r: int) -> float:
        slas = runs[preset][r]["sla_attainment"]
        return max(v["median_hours"] * 60 for k, v in slas.items() if "_on_scene_" in k)

    return get


def within(target: float, share: float) -> Callable[[float], bool]:
    return lambda x: abs(x - target) <= share * target


CHECKS = [
    Check("F12", "longgang-2021: high-frequency personal matters brought to the community centre's "
          "counter and finished there (calibrated: the centre's knowledge, 1.5)", "> 90 %", "mean > 0.90",
          _kpi("longgang-2021", "behaviour", "high_frequency_community_share_by_channel", "counter"),
          lambda x: x > 0.90, kind="calibrated"),
    Check("F12", "longgang-2021: high-frequency personal matters finished in the community, whatever "
          "channel residents chose (predicted: some take them to the city hall)", "> 90 %", "mean > 0.90",
          _kpi("longgang-2021", "share_high_frequency_in_community"), lambda x: x > 0.90),
    Check("E3", "longgang-2019: matters entering at a grid settled there (calibrated: "
          "reforms.grids.knowledge, run.py calibrate scenarios/calibration/fit-2019-grids.toml; "
          "longgang-2021 inherits the fit)",
          "over 90 %", "0.9 +-3 %",
          _kpi("longgang-2019", "share_grid_entries_solved_on_grid"), within(0.90, 0.03), kind="calibrated"),
    Check("B4", "township: residents' personal matters brought online (calibrated: "
          "behaviour.channels.online_constant, run.py calibrate scenarios/calibration/fit-channels.toml)",
          "27.6 %", "+-10 %",
          _kpi("township", "behaviour", "online_share"), within(0.276, 0.10), kind="calibrated"),
    Check("F14", "longgang-2021: residents satisfied with matters the community passed up by blowing "
          "the whistle (predicted: expectation-disconfirmation scores, assumed; an officer on call per "
          "summoned department)", "100 %", ">= 95 %",
          _kpi("longgang-2021", "whistle", "satisfaction", "share_satisfied"), lambda x: x >= 0.95),
    Check("F13", "longgang-2021: grassroots problems and services resolved at community level or below "
          "(personal matters, incidents and disputes: not firm approvals or enforcement cases, which no "
          "community may decide; predicted, but it shares the centre's knowledge 1.5 set for F12)",
          "> 80 %", "mean > 0.80",
          _kpi("longgang-2021", "share_grassroots_resolved_community_or_below"), lambda x: x > 0.80),
    Check("M3", "township: firm registration, calendar days (cohort of the first half-year; calibrated: "
          "handoff.desk_days)", "80 days", "+-15 %",
          _kpi("township", "cohort_resolution_days_by_kind", "firm_registration", "mean"), within(80, 0.15),
          kind="calibrated"),
    Check("M3", "longgang-2021: firm registration, calendar days (predicted: desks, seals, joint review and "
          "trips; nothing fitted to it)", "40 days", "+-15 %",
          _kpi("longgang-2021", "cohort_resolution_days_by_kind", "firm_registration", "mean"),
          within(40, 0.15)),
    Check("M3", "longgang-2021: general investment project, calendar days (predicted)", "<= 40 days",
          "mean <= 40", _kpi("longgang-2021", "cohort_resolution_days_by_kind", "investment_project", "mean"),
          lambda x: x <= 40),
    Check("M3", "longgang-2021: low-risk small project, calendar days (predicted)", "<= 15-16 days",
          "mean <= 16",
          _kpi("longgang-2021", "cohort_resolution_days_by_kind", "low_risk_project", "mean"),
          lambda x: x <= 16),
    Check("M2", "general investment project, longgang-2021 / township calendar days (predicted)",
          "about 0.5 (time cut by about 50 %)", "0.4-0.6",
          _ratio(_kpi("longgang-2021", "cohort_resolution_days_by_kind", "investment_project", "mean"),
                 _kpi("township", "cohort_resolution_days_by_kind", "investment_project", "mean")),
          lambda x: 0.4 <= x <= 0.6),
    Check("F3", "longgang-2021: growth of market entities a year (calibrated by configuration: the "
          "catalogue's registration rate 0.12 and exit rate 0.017 were chosen for F3's 10.3 %; firms' "
          "response to the reform's fewer procedures and days, B1, adds to it)", "10.3 %", "+-2 points",
          _kpi("longgang-2021", "behaviour", "firms", "growth_per_year"),
          lambda x: abs(x - 0.103) <= 0.02, kind="calibrated"),
    Check("B3", "longgang-2021: net new market entities in three years (registrations completed less "
          "exits, x 3; predicted from firms' entry and exit, though it follows closely from F3's rates)",
          "+32,000", "+-25 %", _net_entities_three_years("longgang-2021"), within(32_000, 0.25)),
    Check("M2", "township: approval staff (configured)", "56", "exact",
          _kpi("township", "approval_staff"), lambda x: x == 56, kind="input"),
    Check("M2", "longgang-2021: approval staff (configured)", "26", "exact",
          _kpi("longgang-2021", "approval_staff"), lambda x: x == 26, kind="input"),
    Check("M4", "longgang-2021: enforcement on scene, median minutes (worst source; the configured "
          "6-minute dispatch chain, the team's queue, and travel on the map from the nearest joint "
          "station)", "<= 45 min",
          "median <= 45", _on_scene_median_minutes("longgang-2021"), lambda x: x <= 45),
    Check("M7", "longgang-2021: field team's mean travel to the scene from the nearest joint work "
          "station, minutes (map: assumed speeds, detour and city)", "a patrol within 15 minutes",
          "mean <= 15", _kpi("longgang-2021", "geography", "field_travel_minutes"), lambda x: x <= 15),
    Check("F9", "longgang-2021: governance units F9's sizing rule implies on the map (residents / 35k "
          "where built-up, / 15k elsewhere; assumed built-up land and residents' shares)", "26",
          "+-20 %", _kpi("longgang-2021", "geography", "sized_units", "governance_unit", "implied_count"),
          within(26, 0.20)),
    Check("W1", "township: county leaders' hours at work a week (from W1's reception and research "
          "duties plus their requests; not fitted)", "47.56 h (55.08 for heads)", "45-56",
          _kpi("township", "hours_at_work_per_week", "by_unit", "leadership"), lambda x: 45 <= x <= 56),
    Check("W2", "township: township cadres' hours at work a week (calibrated: "
          "workday.township.duties.upper_tasks)", "10-11 h days", "50-55",
          _kpi("township", "hours_at_work_per_week", "by_unit", "township_office"), lambda x: 50 <= x <= 55,
          kind="calibrated"),
    Check("F6", "longgang-2021 / township government staff (configured headcounts: input)", "about 40 %",
          "0.35-0.45",
          _ratio(_kpi("longgang-2021", "staff_government"), _kpi("township", "staff_government")),
          lambda x: 0.35 <= x <= 0.45, kind="input"),
    Check("claim", "staff-cut-only: backlog growth, open requests per 100 days (second half-year)",
          "grows", "> 500 per 100 days",
          _kpi("staff-cut-only", "backlog_growth_per_100_days"), lambda x: x > 500),
    Check("claim", "township: backlog growth per 100 days (stable)", "stable", "|x| < 200",
          _kpi("township", "backlog_growth_per_100_days"), lambda x: abs(x) < 200),
    Check("claim", "longgang-2021: backlog growth per 100 days (stable)", "stable", "|x| < 200",
          _kpi("longgang-2021", "backlog_growth_per_100_days"), lambda x: abs(x) < 200),
    Check("claim", "staff-cut-only resolution time / the slower of township and longgang-2021 "
          "(geometric mean over categories)", "far longer", ">= 1.5",
          _slower_by("staff-cut-only", ("township", "longgang-2021")), lambda x: x >= 1.5),
]


def run_validation(scenario_dir: Path, reps: int, scale: float, days: int | None,
                   workers: int | None = None, progress: Any = None) -> list[dict[str, Any]]:
    """Run every preset ``reps`` times and evaluate every check; one row per check."""
    jobs = [Job(str(scenario_dir / f"{p}.toml"), seed=r + 1, scale=scale, days=days)
            for p in PRESETS for r in range(reps)]
    results = run_jobs(jobs, workers=workers, progress=progress)
    runs: Runs = {p: results[i * reps:(i + 1) * reps] for i, p in enumerate(PRESETS)}
    rows = []
    for check in CHECKS:
        values = [check.value(runs, r) for r in range(reps)]
        mean, low, high = mean_ci(values)
        rows.append({"fact": check.fact, "check": check.what, "reported": check.reported,
                     "simulated_mean": mean, "ci95_low": low, "ci95_high": high,
                     "tolerance": check.tolerance, "pass": bool(check.passes(mean)), "reps": reps,
                     "kind": check.kind, "verdict": verdict(check.passes, mean, low, high)})
    return rows


def verdict(passes: Callable[[float], bool], mean: float, low: float, high: float) -> str:
    """``pass`` when the whole 95 % interval of the mean passes, ``FAIL`` when none of it does,
    ``unsure`` when it straddles the tolerance (more replications would decide; a mean that
    passes with an interval reaching far outside the band is not a pass). With one replication
    there is no interval and the mean decides. Tolerances are intervals or half-lines, so 201
    points across the interval decide."""
    if math.isnan(low) or math.isnan(high) or high <= low:
        return "pass" if passes(mean) else "FAIL"
    results = {bool(passes(float(x))) for x in np.linspace(low, high, 201)}
    return "pass" if results == {True} else "FAIL" if results == {False} else "unsure"


def claim_rows(claim: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of the central claim (``central_claim``): F6 as a prediction from the staff each design
    needs, and the fair control against the flat design at the same staff. Each is one
    optimisation, so its interval is the point itself (the optimiser states its own uncertainty)."""
    fair, flat = claim["fair_control"], claim["flat_at_required"]

    def row(fact: str, what: str, reported: str, value: float, tolerance: str,
            passes: bool) -> dict[str, Any]:
        return {"fact": fact, "check": what, "reported": reported, "simulated_mean": value, "ci95_low": value,
                "ci95_high": value, "tolerance": tolerance, "pass": bool(passes), "reps": claim["reps"],
                "kind": "predicted", "verdict": "pass" if passes else "FAIL"}

    ratio = claim["ratio_required"]
    cannot = ("" if fair["budget_met"] else
              f"; it cannot have the flat design's {flat['staff']}: one per unit is more")
    pairs = [(fair["outcomes"][k], flat["outcomes"][k]) for k in fair["outcomes"]]
    logs = [math.log(a / b) for a, b in pairs if a and b and not math.isnan(a + b)]
    slower = math.exp(sum(logs) / len(logs)) if logs else math.nan
    return [
        row("F6", "predicted: staff longgang-2021 needs / staff township needs for the same targets "
            f"({claim['longgang-2021']['staff_required']} / {claim['township']['staff_required']}, "
            "run.py staff)",
            "about 40 %", ratio, "0.35-0.45", 0.35 <= ratio <= 0.45),
        row("claim", f"fair control (township structure with {fair['staff']} government staff, shared as it "
            f"needs them{cannot}): targets missed, against {len(flat['missed'])} for longgang-2021",
            "more", float(len(fair["missed"])), "> flat's", len(fair["missed"]) > len(flat["missed"])),
        row("claim", "fair control resolution time / longgang-2021's at equal staff (geometric mean over "
            "categories)", "longer", slower, "> 1", slower > 1),
    ]


def write_validation_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(path, buffer.getvalue().encode())
