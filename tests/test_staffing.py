"""``run.py staff``: the optimiser against queueing theory, and bad targets files.

Theory checks use one or two M/M/c stations (Poisson arrivals, exponential service, open around
the clock, staff = servers because contracts cover the week: see ``tests/theory_helpers.py``)
with a target on the probability of waiting. The analytic answer is the smallest c with Erlang
C(c, a) <= target. Tolerance: the optimiser's answer equals it whenever the target is not near
a boundary, which each test asserts first (Erlang C at c - 1 and at c at least 0.05 from the
target, about eight standard errors of the simulated share of waiting visits with these run
lengths); near a boundary only +-1 could be promised, so no test sits there. Runs have a day of
warm-up and four replications on common seeds. No expected number comes from a seed: the
expectations are Erlang C's.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from sim.cli import main
from sim.experiments.executors import executor_for
from sim.experiments.staffing import StaffingResult, optimise
from sim.experiments.staffing_queues import erlang_c
from sim.experiments.staffing_targets import load_targets
from sim.scenario.loading import load_scenario
from tests.conftest import TINY, run_cli
from tests.theory_helpers import RESIDENTS, rate_per_year

WAIT_TARGET = 0.2
MARGIN = 0.05  # Erlang C at the answer and one below it must be this far from the target
REPS = 4
DAYS = 4  # the KPI window's warm-up is capped at a quarter of the run: 1 day here
WORKERS = int(os.environ.get("THEORY_WORKERS", min(2, os.cpu_count() or 1)))


def analytic_servers(offered: float, target: float = WAIT_TARGET) -> int:
    """Smallest c with Erlang C(c, a) <= target, checked to be clear of the boundary."""
    c = math.floor(offered) + 1
    while erlang_c(c, offered) > target:
        c += 1
    assert erlang_c(c - 1, offered) - target >= MARGIN and target - erlang_c(c, offered) >= MARGIN, (
        f"a = {offered}: the target {target} is too near Erlang C at c = {c - 1} or {c} for an exact check")
    return c


def stations_scenario(folder: Path, name: str, stations: list[tuple[float, float]], staff: int = 12) -> Path:
    """Independent stations, one request kind each: (arrivals per minute, mean service minutes).
    Department level, open around the clock, staff work 168 h, no misrouting or hand-off delay."""
    text = (f'name = "{name}"\n[population]\nresidents = {RESIDENTS}\n'
            f"[simulation]\ndays = {DAYS}\nseed = 1\nwarmup_days = 1\n"
            "[handoff]\ndelay_hours = 0.0\nmisroute_share = 0.0\n")
    for i, (rate, service) in enumerate(stations):
        text += (f'[units.station_{i}]\nlevel = "department"\nstaff = {staff}\nhours_per_week = 168.0\n'
                 f'calendar = "always"\nknowledge = inf\nfunctions = ["f{i}"]\n'
                 f'[requests.r{i}]\ncategory = "personal"\norigin = "resident"\n'
                 f"rate_per_year = {rate_per_year(rate)!r}\ncomplexity = 1.0\nservice_minutes = {service!r}\n"
                 f'service_cv = 1.0\nauthority = ["department"]\nsteps = ["f{i}"]\n'
                 'arrival_calendar = "always"\n')
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def optimise_file(path: Path, workers: int = WORKERS) -> StaffingResult:
    config = load_scenario(path)
    scope = [k for k in config["units"]]
    targets_path = path.parent / "targets.toml"
    targets_path.write_text(f"[wait_probability_max]\ndefault = {WAIT_TARGET}\n")
    targets = load_targets(targets_path, config, scope)
    with executor_for(workers) as executor:
        return optimise(config, targets, scope, executor, REPS, 1, None, None, 2_000)


@pytest.fixture(scope="module")
def two_stations(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, StaffingResult]:
    path = stations_scenario(tmp_path_factory.mktemp("two"), "two", [(2.0, 2.0), (2.5, 1.0)])
    return path, optimise_file(path)


def test_single_station_matches_erlang_c(tmp_path: Path) -> None:
    offered = 4.0  # 2 arrivals a minute x 2 minutes
    expected = analytic_servers(offered)
    result = optimise_file(stations_scenario(tmp_path, "one", [(2.0, 2.0)]))
    measured = result.evaluations["required"].mean("wait_probability.station_0")
    print(f"\nM/M/c a = {offered}: optimiser {result.required['station_0']} servers, Erlang C {expected} "
          f"(P(wait) simulated {measured:.3f}, Erlang C {erlang_c(expected, offered):.3f}); "
          f"{result.runs} simulations")
    assert result.status == "met"
    assert result.required["station_0"] == expected
    assert result.analytic["station_0"] == expected  # the pilot's load estimate gives the same answer


def test_two_independent_stations_get_their_own_answers(two_stations: tuple[Path, StaffingResult]) -> None:
    _, result = two_stations
    expected = {"station_0": analytic_servers(4.0), "station_1": analytic_servers(2.5)}
    print(f"\ntwo stations: optimiser {result.required}, Erlang C {expected}")
    assert result.status == "met"
    assert result.required == expected
    for kind in expected:  # one fewer server misses the target at that station
        assert result.minus_one[kind] is not None
        assert result.minus_one[kind].mean(f"wait_probability.{kind}") > WAIT_TARGET


def test_more_demand_never_gives_fewer_staff(tmp_path: Path,
                                             two_stations: tuple[Path, StaffingResult]) -> None:
    _, base = two_stations
    # station 0 at twice the rate: a = 8 erlangs instead of 4
    heavier = optimise_file(stations_scenario(tmp_path, "heavier", [(4.0, 2.0), (2.5, 1.0)]))
    print(f"\nstation 0 at 2 and 4 arrivals a minute: {base.required['station_0']} and "
          f"{heavier.required['station_0']} servers")
    assert heavier.required["station_0"] >= base.required["station_0"] + 1
    assert heavier.required["station_1"] == base.required["station_1"]  # the other station is independent


def test_one_and_two_workers_give_identical_results(two_stations: tuple[Path, StaffingResult]) -> None:
    path, pooled = two_stations
    inline = optimise_file(path, workers=1)
    assert inline.required == pooled.required
    assert inline.analytic == pooled.analytic
    assert inline.history == pooled.history
    assert inline.seeds == pooled.seeds
    for name in ("current", "analytic", "ceiling", "required"):
        assert inline.evaluations[name].runs == pooled.evaluations[name].runs


# --------------------------------------------------------------------------------------------
# Bad targets files and flags: one line naming the file and key, exit 2, before any run

BAD_TARGETS: dict[str, tuple[str, list[str]]] = {
    "unknown_table": ("[queue_max]\ndefault = 1.0\n", ["queue_max", "unknown key", "utilisation_max"]),
    "unknown_unit": ("[utilisation_max]\nsectoin = 0.8\n", ["utilisation_max.sectoin", "unknown unit kind",
                                                           "section"]),
    "wrong_type": ('[utilisation_max]\ndefault = "high"\n', ["utilisation_max.default", "a number"]),
    "negative": ("[hours_worked_max]\ndefault = -5.0\n", ["hours_worked_max.default", "> 0"]),
    "not_finite": ("[sla_attainment_min]\ndefault = nan\n", ["sla_attainment_min.default", "finite"]),
    "absurd_share": ("[wait_probability_max]\ncentre = 1.5\n", ["wait_probability_max.centre", "<= 1"]),
    "absurd_hours": ("[hours_worked_max]\ndefault = 200\n", ["hours_worked_max.default", "<= 168"]),
    "unknown_category": ("[p90_hours_max]\npermits = 10.0\n", ["p90_hours_max.permits",
                                                               "unknown request category", "firm"]),
    "unknown_sla": ("[sla_attainment_min]\nincident_resolution_48h = 0.9\n",
                    ["sla_attainment_min.incident_resolution_48h", "unknown SLA key",
                     "incident_resolution_24h"]),
    "empty_table": ("[utilisation_max]\n", ["utilisation_max", "empty"]),
    "no_target": ('name = "nothing"\n', ["names no target"]),
    "broken_toml": ("[utilisation_max\n", ["not valid TOML"]),
}


def _one_line(text: str, *expected: str) -> None:
    lines = text.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in text, text
    for piece in expected:
        assert piece in lines[0], (piece, lines[0])


@pytest.mark.parametrize("case", sorted(BAD_TARGETS))
def test_bad_targets_file_is_one_line(case: str, tiny_path: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    text, expected = BAD_TARGETS[case]
    targets = tmp_path / f"{case}.toml"
    targets.write_text(text)
    code = main(["staff", str(tiny_path), "--targets", str(targets), "--out", str(tmp_path / "out")])
    assert code == 2
    _one_line(capsys.readouterr().err, str(targets), *expected)
    assert not (tmp_path / "out" / "staffing.csv").exists()


@pytest.mark.parametrize(("flags", "expected"), [
    (["--units", "grid"], ["--units", "grid-level", "centre"]),
    (["--units", "centre,nowhere"], ["--units", "unknown unit kind 'nowhere'"]),
    (["--reps", "0"], ["--reps", "from 1"]),
    (["--targets", "missing.toml"], ["missing.toml", "no such targets file"]),
    (["--reps", "4", "--max-runs", "10"], ["--max-runs", "needs 12 simulations"]),
])
def test_bad_flags_are_one_line(flags: list[str], expected: list[str], tiny_path: Path, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["staff", str(tiny_path), *flags, "--out", str(tmp_path / "out")])
    assert code == 2
    _one_line(capsys.readouterr().err, *expected)


def test_target_on_a_kpi_the_runs_lack_is_one_line(tiny_path: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Hours at work exist only with a working day (duties or overtime); TINY has neither, which
    shows after the pilot run."""
    targets = tmp_path / "at_work.toml"
    targets.write_text("[hours_at_work_max]\ndefault = 50.0\n")
    code = main(["staff", str(tiny_path), "--targets", str(targets), "--workers", "1",
                 "--out", str(tmp_path / "out")])
    assert code == 2
    _one_line(capsys.readouterr().err.splitlines()[-1], str(targets), "hours_at_work_max", "no KPI")


def test_bad_targets_through_the_command_line_process(tmp_path: Path) -> None:
    """As a user runs it: a separate process, one line on stderr, exit 2."""
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(TINY)
    targets = tmp_path / "targets.toml"
    targets.write_text("[utilisation_max]\nleadership = inf\n")
    result = run_cli("staff", str(scenario), "--targets", str(targets), "--out", str(tmp_path / "out"))
    assert result.returncode == 2, result.stderr
    _one_line(result.stderr, str(targets), "utilisation_max.leadership", "finite")


def test_targets_file_resolves_defaults_and_request_kind_names(tiny_path: Path, tmp_path: Path) -> None:
    config = load_scenario(tiny_path)
    path = tmp_path / "t.toml"
    path.write_text("[utilisation_max]\ndefault = 0.8\nleadership = 0.9\n"
                    "[sla_attainment_min]\nincident = 0.7\n")
    targets = {t.label: t for t in load_targets(path, config, ["centre", "leadership"]).targets}
    assert set(targets) == {"utilisation_max.centre", "utilisation_max.leadership",
                            "sla_attainment_min.incident_resolution_24h"}
    assert targets["utilisation_max.leadership"].bound == 0.9
    sla = targets["sla_attainment_min.incident_resolution_24h"]
    assert sla.kpi == "sla_attainment.incident_resolution_24h.attainment"


def test_shipped_default_targets_load_for_every_preset() -> None:
    from tests.conftest import SCENARIOS

    for preset in ("township", "longgang-2019", "longgang-2021", "staff-cut-only"):
        config = load_scenario(SCENARIOS / f"{preset}.toml")
        scope = [k for k, u in config["units"].items() if u["level"] not in ("grid", "social")]
        targets = load_targets(SCENARIOS / "targets" / "default.toml", config, scope)
        assert {t.table for t in targets.targets} >= {"capacity_use_max", "hours_worked_max"}


def test_readme_targets_example_is_valid(tmp_path: Path) -> None:
    import re

    from tests.conftest import ROOT, SCENARIOS

    section = (ROOT / "README.md").read_text().split("## How many staff do we need?")[1]
    example = re.search(r"```toml\n(.*?)```", section, re.S).group(1)
    path = tmp_path / "targets.toml"
    path.write_text(example)
    config = load_scenario(SCENARIOS / "township.toml")
    targets = load_targets(path, config, ["leadership", "township_office"])
    assert "p90_hours_max.dispute" in {t.label for t in targets.targets}


def test_analytic_load_counts_duties_and_overtime(tmp_path: Path) -> None:
    """The pilot's analytic model of a unit (requests, duties per unit and per head, leave, the
    overtime cap) gives the hours worked and capacity use the run measures: within 3 % (duty
    counts are Poisson draws; 120 days of them)."""
    from sim.experiments.api import run_scenario
    from sim.experiments.staffing_queues import measure, pilot_loads

    text = TINY.replace("days = 10", "days = 120") + (
        "\n[workday.department]\nleave_days = 20.0\novertime_hours_per_day = 2.0\n"
        'duties.meetings = { per = "staff", count_per_year = 100.0, minutes = 90.0 }\n'
        'duties.documents = { per = "unit", count_per_year = 2000.0, minutes = 30.0 }\n')
    path = tmp_path / "duties.toml"
    path.write_text(text)
    result = run_scenario(path, seed=3)
    loads, measured = pilot_loads(result).loads, measure(result)
    for kind in ("section", "other_section"):
        load = loads[kind]
        assert load.duty_fixed > 0 and load.duty_per_head > 0 and load.overtime_share == pytest.approx(0.25)
        hours = measured[f"hours_worked_per_week.by_unit.{kind}"]
        assert load.hours_worked(load.staff) == pytest.approx(hours, rel=0.03)
        assert load.capacity_share(load.staff) == pytest.approx(measured[f"capacity_use.{kind}"], rel=0.03)
    # without the duties the same unit works less: the duty terms are not decoration
    assert loads["section"].hours_worked(2) > (loads["section"].load.mean()
                                               * loads["section"].open_week_minutes / 60 / 2) * 1.5
