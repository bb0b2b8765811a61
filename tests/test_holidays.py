"""Public holidays (W5): no office serves on a statutory holiday, make-up working days are served,
and the holiday clock is a clock (conversions invert, open time adds up)."""

from __future__ import annotations

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
