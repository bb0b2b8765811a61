"""The working day: duties queued at openings, overtime decided at closings.

  * both engines agree request by request with duties, overtime and holidays on;
  * the time ledger balances for every unit and day (busy + idle = contract + overtime, idle never
    negative) and every minute of work is in it;
  * overtime allowed but never needed changes nothing; overtime is taken only when work is
    queued at closing, never past the cap;
  * with the cap binding, work piles up at the rate the arithmetic of the day says;
  * a duty's volume follows its driver (per unit: not the headcount; per staff member: it does);
  * ``simulation.working_day = false`` gives exactly the run without duties and overtime;
  * bad overtime and duty settings are refused in one line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.city.model import GovernanceModel
from sim.cli import main
from sim.engine.calendars import DAY, WeeklyCalendar
from sim.engine.compiled import CompiledEngine
from sim.engine.legs import Legs
from sim.experiments.api import run_scenario
from sim.outputs.ledger import time_ledger
from sim.scenario.loading import load_scenario
from tests.conftest import SCENARIOS

WORKDAY = {  # a township preset with a working day: documents and meetings, overtime allowed
    "units.township_office.overtime_hours_per_day": 3.0,
    "units.township_office.duties": {"documents": {"per": "unit", "count_per_year": 2850.0, "minutes": 60.0},
                                     "meetings": {"per": "staff", "count_per_year": 100.0, "minutes": 120.0,
                                                  "mode": "away"}},
    "units.leadership.overtime_hours_per_day": 2.0,
    "units.leadership.duties": {"reception": {"per": "staff", "count_per_year": 150.0, "minutes": 240.0,
                                              "mode": "away"}},
    "units.market_enforcement.overtime_hours_per_day": 2.0,
    "units.market_enforcement.duties": {"inspections": {"per": "firm", "count_per_year": 0.3,
                                                        "minutes": 90.0}},
}


def _model(engine: str, days: int, **extra: object) -> GovernanceModel:
    config = load_scenario(SCENARIOS / "township.toml",
                           {"simulation.engine": engine, "simulation.scale": 0.002, **WORKDAY, **extra})
    model = GovernanceModel(config, seed=3)
    model.run(days)
    return model


def test_engines_agree_with_duties_overtime_and_holidays() -> None:
    holidays = {"calendars.office.holidays": "cn-2024"}
    ref, com = _model("reference", 50, **holidays), _model("compiled", 50, **holidays)
    a, b = ref.engine.log(), com.engine.log()
    for field in ("leg_arrive", "leg_start", "leg_end", "leg_start_work", "leg_end_work", "ready"):
        assert np.array_equal(getattr(a, field), getattr(b, field), equal_nan=True), field
    wa, wb = ref.engine.workday_log(), com.engine.workday_log()
    assert np.array_equal(np.sort(wa.duty_begin), np.sort(wb.duty_begin)) and len(wa.duty_begin) > 100
    assert wa.clocks.keys() == wb.clocks.keys()
    for unit in wa.clocks:
        assert all(np.array_equal(x, y) for x, y in zip(wa.clocks[unit], wb.clocks[unit], strict=True))
    assert sum(c[3].sum() for c in wa.clocks.values()) > 0  # overtime was worked


def test_the_ledger_balances_every_day() -> None:
    model = _model("compiled", 60)
    structure = model.structure
    units = [k.first for k in structure.kinds]  # the first unit of every kind, grids and teams included
    log, work = model.engine.log(), model.engine.workday_log()
    for unit in units:
        ledger = time_ledger(model, unit)
        assert len(ledger["day"]) >= 40  # 60 days: office units open about 43, patrols 60
        # idle is never negative: no server double-booked, none served outside its day
        assert ledger["idle"].min() >= -1e-6 * ledger["contract"].max()
        cap = structure.unit_overtime_minutes[unit] * structure.unit_servers[unit]
        assert np.all(ledger["overtime"] <= cap + 1e-9)
        # every minute of work before the last day's end is in the ledger
        mine = model.engine.leg_unit() == unit
        day_end = model.day * DAY
        start_w = log.leg_start_work[mine]
        end_w = log.leg_end_work[mine]
        cutoff = model.engine.unit_to_work(day_end)[unit]
        begin = np.nan_to_num(start_w, nan=np.inf)
        worked = np.clip(np.minimum(np.nan_to_num(end_w, nan=np.inf), cutoff) - begin, 0, None).sum()
        assert ledger["requests"].sum() == pytest.approx(worked, rel=1e-9, abs=1e-6)
        duty = work.duty_unit == unit
        duty_worked = np.clip(np.minimum(work.duty_begin[duty] + work.duty_minutes[duty], cutoff)
                              - work.duty_begin[duty], 0, None).sum()
        assert ledger["duties"].sum() == pytest.approx(duty_worked, rel=1e-9, abs=1e-6)


def _station(rho: float, cap_hours: float, days: int, seed: int, servers: int = 4,
             arrive_minutes: float = 480.0, fixed: bool = False) -> CompiledEngine:
    """One office station (9-17, Monday-Friday), Poisson arrivals in the first ``arrive_minutes``
    of each open day carrying ``rho`` times its contract capacity of work, service of 30 minutes
    (exponential, or fixed)."""
    office = WeeklyCalendar(9, 17, [0, 1, 2, 3, 4])
    engine = CompiledEngine([servers], [office], office, None, [cap_hours * 60.0], [False])
    rng = np.random.default_rng(seed)
    per_day = rho * servers * 480.0 / 30.0
    created = []
    for day in range(days):
        if office.is_open_day(day):
            created.append(day * DAY + 540.0 + np.sort(rng.uniform(0, arrive_minutes, rng.poisson(per_day))))
    times = np.concatenate(created)
    n = len(times)
    service = np.full(n, 30.0) if fixed else rng.exponential(30.0, n)
    legs = Legs(np.arange(n), np.zeros(n, dtype=np.int64), service, np.zeros(n), np.zeros(n),
                np.zeros(n, dtype=bool), np.zeros(n, dtype=bool))
    engine.add(times, legs)
    for day in range(1, days + 1):
        engine.run_until(day * DAY)
    return engine


def test_overtime_not_needed_changes_nothing() -> None:
    """With fixed 30-minute visits arriving only in the morning at a light load, no work is left
    at closing (more than 32 arrivals in four hours would be needed), so the unit never stays: the
    same times as a unit that may not stay (within the rounding of two ways of adding up the clock)."""
    light = _station(0.2, 2.0, 60, seed=1, arrive_minutes=240.0, fixed=True)
    none = _station(0.2, 0.0, 60, seed=1, arrive_minutes=240.0, fixed=True)
    assert light.workday_log().clocks[0][3].sum() == 0.0
    assert np.allclose(light.log().leg_end, none.log().leg_end, rtol=0, atol=1e-6)
    busy = _station(0.2, 2.0, 60, seed=1)  # arrivals until closing: some days run over
    assert busy.workday_log().clocks[0][3].sum() > 0


@pytest.mark.parametrize("rho", [1.5, 1.8])
def test_backlog_grows_at_the_rate_the_capped_day_leaves(rho: float) -> None:
    """Past what the longest day can carry (rho > 1 + cap / 8 h), servers never idle once the
    backlog builds, so the day is always extended by the cap and the work left over grows by
    (rho - 1 - cap / 8 h) x 8 h x servers a working day. Fixed 30-minute visits; the mean daily
    growth over working days 40-200 of 20 seeds is within 6 % of it, and its standard error is at
    most a third of that tolerance (so the check can fail)."""
    cap, servers, days = 2.0, 4, 300  # 300 calendar days: about 214 working days
    rates = []
    for seed in range(20):
        engine = _station(rho, cap, days, seed, servers, fixed=True)
        day, _, length, extra = engine.workday_log().clocks[0]
        assert np.all(extra <= cap * 60.0 + 1e-9)
        log = engine.log()
        # work committed past each day's end = work arrived so far - work the days have offered
        offered = np.cumsum(length[:-1]) * servers
        arrived = np.array([engine.leg_service()[log.leg_arrive < (d + 1) * DAY].sum() for d in day[:-1]])
        backlog = arrived - offered
        rates.append((backlog[200] - backlog[40]) / 160.0)
        assert np.mean(extra[40:200]) == pytest.approx(cap * 60.0)  # always the whole cap
    expected = (rho - 1.0 - cap / 8.0) * 480.0 * servers
    tolerance = 0.06 * expected
    assert np.std(rates, ddof=1) / np.sqrt(len(rates)) <= tolerance / 3
    assert np.mean(rates) == pytest.approx(expected, abs=tolerance)


def test_stable_overload_is_carried_by_overtime() -> None:
    """Between the contract and the capped day (1 < rho < 1 + cap / 8 h) the queue stays bounded
    and mean overtime covers at least the excess load, (rho - 1) x 8 h, and stays within the cap."""
    rho, cap = 1.15, 2.0
    extras = []
    for seed in range(4):
        engine = _station(rho, cap, 170, seed)
        extras.append(engine.workday_log().clocks[0][3][20:-1].mean())
        assert engine.resolved_by(170 * DAY) >= 0.97 * engine.n_requests  # no growing backlog
    assert (rho - 1) * 480.0 * 0.97 <= np.mean(extras) <= cap * 60.0


def test_duty_volume_follows_its_driver(tiny_path: Path) -> None:
    text = tiny_path.read_text()
    per_unit = text.replace('[units.section]\nlevel = "department"\nstaff = 2\n',
                            '[units.section]\nlevel = "department"\nstaff = STAFF\n'
                            'duties = { documents = { per = "PER", count_per_year = 500, minutes = 60 } }\n')
    hours = {}
    for per in ("unit", "staff"):
        for staff in (2, 4):
            path = tiny_path.parent / f"{per}-{staff}.toml"
            path.write_text(per_unit.replace("STAFF", str(staff)).replace("PER", per))
            result = run_scenario(path, seed=2, scale=1.0, days=70)
            work = result.model.engine.workday_log()
            hours[per, staff] = work.duty_minutes.sum() / 60.0
    expected_unit = 500 * 60 / 60 * 70 / 365  # about 95.9 hours of documents in 70 days
    assert hours["unit", 2] == pytest.approx(expected_unit, rel=0.15)
    assert hours["unit", 4] == pytest.approx(hours["unit", 2], rel=0.15)  # not the headcount
    assert hours["staff", 4] == pytest.approx(2 * hours["staff", 2], rel=0.15)  # the headcount


def test_working_day_off_is_the_run_without_it() -> None:
    off = run_scenario(SCENARIOS / "township.toml", seed=4, scale=0.002, days=30,
                       overrides={**WORKDAY, "simulation.working_day": False})
    plain = run_scenario(SCENARIOS / "township.toml", seed=4, scale=0.002, days=30,
                         overrides={"simulation.working_day": False})  # the preset's own working day off too
    assert np.array_equal(off.tables.resolved, plain.tables.resolved, equal_nan=True)
    assert off.kpis["staff_utilisation"] == plain.kpis["staff_utilisation"]
    on = run_scenario(SCENARIOS / "township.toml", seed=4, scale=0.002, days=30, overrides=WORKDAY)
    assert on.kpis["hours_worked_per_week"]["by_unit"]["township_office"] > \
        plain.kpis["hours_worked_per_week"]["by_unit"]["township_office"] + 5


@pytest.mark.parametrize(("key", "value", "message"), [
    ("units.township_office.overtime_hours_per_day", "8.0", "overtime must end by midnight"),
    ("units.grid.overtime_hours_per_day", "-1", "units.grid.overtime_hours_per_day"),
    ("units.leadership.duties", "{ docs = { per = \"house\", count_per_year = 1, minutes = 5 } }",
     "units.leadership.duties.docs.per"),
    ("units.leadership.duties", "{ docs = { count_per_year = 1 } }", "units.leadership.duties.docs.minutes"),
    ("units.leadership.duties", "{ docs = { count_per_year = nan, minutes = 5 } }", "finite"),
])
def test_bad_working_day_settings_are_one_line(key: str, value: str, message: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(SCENARIOS / "township.toml"), "--days", "2", "--scale", "0.001",
                 "--set", f"{key}={value}", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_units_inherit_their_levels_working_day(tiny_path: Path) -> None:
    """``[workday.LEVEL]`` reaches every unit kind of that level, whichever reform made it; a
    unit's own duty of the same name replaces the level's, and its own overtime cap wins."""
    text = tiny_path.read_text() + (
        '\n[workday.community]\novertime_hours_per_day = 2.0\n'
        'duties = { documents = { per = "unit", count_per_year = 900, minutes = 20 } }\n'
        '\n[workday.district]\nduties = { reports = { per = "unit", count_per_year = 50, minutes = 60 } }\n'
        '\n[workday.department]\novertime_hours_per_day = 1.0\n'
        'duties = { meetings = { per = "staff", count_per_year = 100, minutes = 60 } }\n')
    text = text.replace('[units.section]\nlevel = "department"\nstaff = 2\n',
                        '[units.section]\nlevel = "department"\nstaff = 2\novertime_hours_per_day = 3.0\n'
                        'duties = { meetings = { per = "staff", count_per_year = 50, minutes = 60 } }\n')
    path = tiny_path.parent / "levels.toml"
    path.write_text(text + '\n[[reforms]]\nname = "districts"\ncount = 2\nstaff = 2\n')
    structure = GovernanceModel(load_scenario(path), seed=1).structure
    kinds = {k.name: k for k in structure.kinds}
    assert kinds["centre"].duties["documents"]["count_per_year"] == 900
    assert kinds["centre"].overtime_hours_per_day == 2.0
    assert kinds["district"].duties["reports"]["count_per_year"] == 50  # a unit a reform created
    assert kinds["section"].duties["meetings"]["count_per_year"] == 50  # its own replaces the level's
    assert kinds["section"].overtime_hours_per_day == 3.0
    assert kinds["other_section"].duties["meetings"]["count_per_year"] == 100
    assert kinds["other_section"].overtime_hours_per_day == 1.0
    assert kinds["grid"].duties == {} and kinds["grid"].overtime_hours_per_day == 0.0
    off = load_scenario(path, {"simulation.working_day": False})
    kinds_off = GovernanceModel(off, seed=1).structure.kinds
    assert all(not k.duties and k.overtime_hours_per_day == 0 for k in kinds_off)


def test_unknown_workday_level_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(SCENARIOS / "township.toml"), "--days", "2", "--scale", "0.001",
                 "--set", "workday.township_layer.overtime_hours_per_day=1", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "workday.township_layer" in err and "allowed: grid" in err, err


def _desk_station(desk_hours: float, cap_hours: float, days: int, requests: bool, seed: int = 0,
                  servers: int = 3) -> CompiledEngine:
    """An office station with ``desk_hours`` of desk work per server and open day (fixed), and,
    if ``requests``, Poisson visits carrying half its contract."""
    office = WeeklyCalendar(9, 17, [0, 1, 2, 3, 4])
    engine = CompiledEngine([servers], [office], office, None, [cap_hours * 60.0], [False], [True])
    if requests:
        rng = np.random.default_rng(seed)
        per_day = 0.5 * servers * 16  # half the contract in 30-minute visits
        times = np.concatenate([day * DAY + 540.0 + np.sort(rng.uniform(0, 480.0, rng.poisson(per_day)))
                                for day in range(days) if office.is_open_day(day)])
        n = len(times)
        engine.add(times, Legs(np.arange(n), np.zeros(n, dtype=np.int64), rng.exponential(30.0, n),
                               np.zeros(n), np.zeros(n), np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)))
    desk = np.array([[desk_hours * 60.0 * servers if office.is_open_day(d) else 0.0] for d in range(days)])
    engine.add_duties(0, np.zeros((days, 1)), desk)
    for day in range(1, days + 1):
        engine.run_until(day * DAY)
    return engine


def test_desk_work_never_delays_a_visit() -> None:
    """Desk work is done in idle time only, so without overtime every visit is timed exactly as
    if there were no desk work at all; and desk work done never exceeds what arrived."""
    with_desk = _desk_station(3.0, 0.0, 40, requests=True, seed=5)
    office = WeeklyCalendar(9, 17, [0, 1, 2, 3, 4])
    plain = CompiledEngine([3], [office], office)
    rng = np.random.default_rng(5)
    times = np.concatenate([day * DAY + 540.0 + np.sort(rng.uniform(0, 480.0, rng.poisson(0.5 * 3 * 16)))
                            for day in range(40) if office.is_open_day(day)])
    n = len(times)
    plain.add(times, Legs(np.arange(n), np.zeros(n, dtype=np.int64), rng.exponential(30.0, n), np.zeros(n),
                          np.zeros(n), np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)))
    for day in range(1, 41):
        plain.run_until(day * DAY)
    assert np.array_equal(with_desk.log().leg_end, plain.log().leg_end, equal_nan=True)
    done = with_desk.workday_log().duty_minutes.sum()
    arrived = 3.0 * 60 * 3 * sum(office.is_open_day(d) for d in range(40))
    assert 0.9 * arrived < done <= arrived + 1e-6  # half-loaded servers do nearly all of it


@pytest.mark.parametrize(("desk_hours", "expected_overtime", "growth"), [(10.0, 2.0, 0.0), (12.0, 3.0, 1.0)])
def test_desk_backlog_keeps_staff_late(desk_hours: float, expected_overtime: float, growth: float) -> None:
    """No visits, a fixed desk load per server and day: staff stay exactly as long as the load
    exceeds the 8-hour day, up to the 3-hour cap; past the cap the backlog grows by the excess."""
    engine = _desk_station(desk_hours, 3.0, 60, requests=False)
    day, _, _, extra = engine.workday_log().clocks[0]
    worked = extra[5:-1]
    assert np.allclose(worked, expected_overtime * 60.0)
    done = engine.workday_log().duty_minutes.sum()
    open_days = len(day) - 1
    arrived = desk_hours * 60.0 * 3 * open_days
    assert arrived - done == pytest.approx(growth * 60.0 * 3 * open_days + 0.0, abs=desk_hours * 60 * 3 + 1)


def test_desk_work_is_conserved(tiny_path: Path) -> None:
    """Desk work handed to the engine = desk work done (logged) + desk work left, exactly, in both
    engines alike; a section with more paper than it gets through piles it up."""
    text = tiny_path.read_text().replace(
        '[units.section]\nlevel = "department"\nstaff = 2\n',
        '[units.section]\nlevel = "department"\nstaff = 2\novertime_hours_per_day = 1.0\n'
        'duties = { paper = { per = "unit", count_per_year = 12000, minutes = 30 } }\n')
    path = tiny_path.parent / "desk.toml"
    path.write_text(text)
    logs = []
    for engine in ("reference", "compiled"):
        model = GovernanceModel(load_scenario(path, {"simulation.engine": engine}), seed=4)
        model.run(30)
        logs.append(model.engine.workday_log())
        section = next(k for k in model.structure.kinds if k.name == "section").first
        if engine == "reference":
            arrived = sum(row[section] for row in model.engine._desk_days.values())
        else:
            arrived = model.engine._desk_min[:, section].sum()
        log = logs[-1]
        done = log.duty_minutes[log.duty_unit == section].sum()
        assert done + log.desk_left[section] == pytest.approx(arrived, rel=1e-12)
        assert log.desk_left[section] > 0.1 * arrived  # 24 h of paper a day for two 9-hour days: it piles up
    assert np.array_equal(logs[0].desk_left, logs[1].desk_left)
    assert np.array_equal(np.sort(logs[0].duty_begin), np.sort(logs[1].duty_begin))


def test_engines_agree_under_a_backlog_of_weeks_at_an_overtime_station() -> None:
    """Visits that end past the day's clock wait for it in a list ordered by their end, and a
    closing releases those now ended in the order they were held (``pend_take``): in an
    overloaded two-visit station (4 servers, arrivals and visits of whole quarters, a second visit handed
    on after 0, 15 or 30, so visits released at one closing push arrivals with tied times from
    different ends, and the order of release breaks the ties) the compiled core must agree with
    the reference loop, which walks its list in holding order, visit by visit."""
    from sim.engine.reference import QueueEngine

    office = WeeklyCalendar(9, 17, [0, 1, 2, 3, 4])
    rng = np.random.default_rng(11)
    days, servers = 120, 4
    times = np.concatenate([day * DAY + 540.0 + 15.0 * np.sort(rng.integers(0, 32, rng.poisson(1.6 * 64 / 2)))
                            for day in range(days) if office.is_open_day(day)])
    n = len(times)
    service = rng.choice([15.0, 30.0, 45.0], 2 * n)  # whole quarters: many visits end at one minute
    handoff = np.zeros(2 * n)
    handoff[1::2] = rng.choice([0.0, 15.0, 30.0], n)  # and second visits of several arrive at one
    legs = Legs(np.repeat(np.arange(n), 2), np.zeros(2 * n, dtype=np.int64), service, np.zeros(2 * n),
                handoff, np.zeros(2 * n, dtype=bool), np.zeros(2 * n, dtype=bool))
    logs = []
    for engine_class in (QueueEngine, CompiledEngine):
        engine = engine_class([servers], [office], office, None, [120.0], [False])
        engine.add(times, legs)
        for day in range(1, days + 1):
            engine.run_until(day * DAY)
        logs.append(engine.log())
    a, b = logs
    assert np.isnan(a.ready).sum() > n / 4  # a backlog of weeks: a quarter still open at the end
    for field in ("leg_arrive", "leg_start", "leg_end", "leg_start_work", "leg_end_work", "ready"):
        assert np.array_equal(getattr(a, field), getattr(b, field), equal_nan=True), field
