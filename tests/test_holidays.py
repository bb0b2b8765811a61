"""Public holidays (W5): no office serves on a statutory holiday, make-up working days are served,
and the holiday clock is a clock (conversions invert, open time adds up)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.city.model import GovernanceModel
from sim.engine.calendars import DAY, HOLIDAY_CYCLE_DAYS, HOLIDAYS, WeeklyCalendar
from sim.scenario.loading import load_scenario
from tests.conftest import SCENARIOS

CLOSED, MAKEUP = HOLIDAYS["cn-2024"]
OFFICE = WeeklyCalendar(9, 17, [0, 1, 2, 3, 4], "cn-2024")
PLAIN = WeeklyCalendar(9, 17, [0, 1, 2, 3, 4])


def test_schedule_is_the_2024_one() -> None:
    assert len(CLOSED) - len(MAKEUP) == 11  # W5: 11 statutory days until 2024
    assert all(d % 7 < 5 for d in CLOSED)  # closures listed on weekdays (day 0 = Monday 1 Jan 2024)
    assert all(d % 7 >= 5 for d in MAKEUP)  # make-up days are weekend days
    assert OFFICE.yearly_open_minutes() == pytest.approx(PLAIN.yearly_open_minutes() - 11 * 480 * 365 / 364)


def test_open_days() -> None:
    for day in CLOSED:
        assert not OFFICE.is_open_day(day) and not OFFICE.is_open_day(day + HOLIDAY_CYCLE_DAYS)
        assert OFFICE.to_work(day * DAY + DAY) == OFFICE.to_work(day * DAY)  # no work that day
    for day in MAKEUP:
        assert OFFICE.is_open_day(day)
        assert OFFICE.to_work(day * DAY + DAY) - OFFICE.to_work(day * DAY) == 480.0


@pytest.mark.parametrize("calendar", [OFFICE, WeeklyCalendar(8, 20, list(range(7)), "cn-2024")])
def test_holiday_clock_inverts(calendar: WeeklyCalendar) -> None:
    rng = np.random.default_rng(4)
    for w in rng.uniform(0, 3 * 250 * 480, 3000):
        start, end = calendar.start_time(w), calendar.end_time(w)
        assert calendar.to_work(start) == pytest.approx(w, abs=1e-6)
        assert calendar.to_work(end) == pytest.approx(w, abs=1e-6)
        assert calendar.is_open_day(int(start // DAY)) and calendar.is_open_day(int(end // DAY))


def test_no_office_serves_on_a_holiday_and_make_up_days_are_served() -> None:
    """Township with office holidays over the first 300 days (Spring Festival to National Day)."""
    config = load_scenario(SCENARIOS / "township.toml", {"simulation.scale": 0.002,
                                                         "calendars.office.holidays": "cn-2024"})
    model = GovernanceModel(config, seed=5)
    model.run(300)
    log = model.engine.log()
    structure = model.structure
    office_units = np.array([structure.unit_calendar[u] is structure.calendars["office"]
                             for u in range(structure.n_units)])
    legs = model.legs()
    at_office = office_units[legs.unit] & (legs.service > 0) & np.isfinite(log.leg_end)
    start_day = (log.leg_start[at_office] // DAY).astype(int)
    end_day = (log.leg_end[at_office] // DAY).astype(int)
    closed = np.array([d for d in CLOSED if d < 300])
    assert not np.isin(start_day, closed).any()
    assert not np.isin(end_day, closed).any()
    makeup = np.array([d for d in MAKEUP if d < 300])
    served = np.isin(start_day, makeup)
    assert served.sum() > 100  # work is done on every kind of make-up day
    assert set(np.unique(start_day[served])) == set(makeup.tolist())
    # requests arriving on office calendars are not created on closed days either
    requests = model.requests()
    office_kinds = [k.index for k in model.kinds if k.arrival_calendar == "office"]
    created_day = (requests.created[np.isin(requests.kind, office_kinds)] // DAY).astype(int)
    assert not np.isin(created_day, closed).any()
    assert np.isin(created_day, makeup).any()


@pytest.mark.parametrize("calendar", [OFFICE, PLAIN])
def test_work_a_hair_past_closing_ends_at_closing(calendar: WeeklyCalendar) -> None:
    """Summed service times overshoot a closing by rounding (25 x 1.2 min = 30.000000000000004);
    such a leg ends at that closing, not at the next opening a night or a week later (a CI
    property run found this)."""
    for day in (1, 2, 8, 36):  # plain weekdays, away from the holidays
        close = calendar.to_work(day * DAY + DAY)
        assert calendar.end_time(close + 1e-12) == pytest.approx(day * DAY + 17 * 60, abs=1e-6)
        assert calendar.start_time(close + 1e-12) > day * DAY + DAY  # starting is next morning


HALF_HOUR_WINDOW = """name = "half-hour window"
[population]
residents = 50
firms = 0
above_scale_share = 0.0
upper_divisions = 0
[simulation]
days = 21
scale = 1.0
seed = 0
warmup_days = 0
[handoff]
delay_hours = 0.0
delay_cv = 0.0
misroute_share = 0.0
screening_minutes = 0.0
forward_without_trip = false
[calendars.custom]
open_hour = 0.0
close_hour = 0.5
work_days = [0]
[functions]
f0 = "function f0"
[units.leadership]
level = "leadership"
staff = 1
calendar = "custom"
knowledge = inf
functions = ["*"]
[requests.busy]
category = "personal"
origin = "resident"
rate_per_year = 182.5
complexity = 1.0
service_minutes = 1.2000000000000002
service_cv = 0.0
in_person = false
dispatched = false
authority = ["grid", "community", "township", "department", "leadership"]
travel_minutes = 0.0
arrival_calendar = "always"
steps = ["f0"]
"""


@pytest.mark.parametrize("engine", ["reference", "compiled"])
def test_engines_end_rounded_legs_at_closing(engine: str, tmp_path: Path) -> None:
    """The scenario the property run found: 1.2-minute legs fill a 30-minute Monday window."""
    path = tmp_path / "s.toml"
    path.write_text(HALF_HOUR_WINDOW, encoding="utf-8")
    model = GovernanceModel(load_scenario(path, {"simulation.engine": engine}), seed=0)
    model.run(21)
    log = model.engine.log()
    done = ~np.isnan(log.leg_end)
    cal = model.structure.unit_calendar[0]
    ends = log.leg_end[done]
    # every leg ends inside a Monday window, never on a later Monday's opening instant
    assert np.all(np.array([cal.to_work(t - 0.01) < cal.to_work(t) for t in ends]))
