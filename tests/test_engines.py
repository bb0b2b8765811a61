"""The compiled queueing core agrees with the reference Python loop, request by request."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.city.model import GovernanceModel
from sim.engine.calendars import DAY, WeeklyCalendar
from sim.engine.compiled import CompiledEngine
from sim.engine.legs import Legs
from sim.engine.reference import QueueEngine
from sim.scenario.loading import load_scenario
from tests.conftest import SCENARIOS


def _log(path: Path, engine: str, days: int, scale: float, **extra: object):
    config = load_scenario(path, {"simulation.engine": engine, "simulation.scale": scale, **extra})
    model = GovernanceModel(config, seed=11)
    model.run(days)
    return model.engine.log(), model.engine.resolved_by(days * 1440.0)


@pytest.mark.parametrize("name", ["township", "longgang-2021", "staff-cut-only"])
def test_compiled_engine_matches_reference_on_presets(name: str) -> None:
    reference, ref_resolved = _log(SCENARIOS / f"{name}.toml", "reference", 21, 0.002)
    compiled, com_resolved = _log(SCENARIOS / f"{name}.toml", "compiled", 21, 0.002)
    assert ref_resolved == com_resolved > 1000
    for field in ("leg_arrive", "leg_start", "leg_end", "leg_start_work", "leg_end_work", "ready"):
        assert np.array_equal(getattr(reference, field), getattr(compiled, field), equal_nan=True), field


def test_compiled_engine_matches_reference_on_a_small_mixed_scenario(tiny_path: Path) -> None:
    reference, _ = _log(tiny_path, "reference", 10, 1.0)
    compiled, _ = _log(tiny_path, "compiled", 10, 1.0)
    assert len(reference.ready) > 100
    for field in ("leg_arrive", "leg_start", "leg_end", "ready"):
        assert np.array_equal(getattr(reference, field), getattr(compiled, field), equal_nan=True), field


def test_engines_agree_with_public_holidays() -> None:
    """Holiday calendars take their own path through both clocks; the engines still agree. The
    run covers Spring Festival (days 40-48) and its make-up Sundays."""
    extra = {"calendars.office.holidays": "cn-2024"}
    reference, ref_resolved = _log(SCENARIOS / "township.toml", "reference", 60, 0.002, **extra)
    compiled, com_resolved = _log(SCENARIOS / "township.toml", "compiled", 60, 0.002, **extra)
    assert ref_resolved == com_resolved > 1000
    for field in ("leg_arrive", "leg_start", "leg_end", "leg_start_work", "leg_end_work", "ready"):
        assert np.array_equal(getattr(reference, field), getattr(compiled, field), equal_nan=True), field


def test_cached_kernels_are_dropped_when_a_source_they_inline_changes(tmp_path: Path, monkeypatch) -> None:
    """Numba keys its cache on a kernel's own file; the guard also watches the files it inlines."""
    from sim.engine import kernel_cache

    monkeypatch.setattr(kernel_cache, "_cache_dir", lambda: tmp_path)
    old = tmp_path / "compiled._run_until-1.py312.nbi"
    old.write_text("stale")
    kernel_cache.drop_stale_kernels()  # no stamp yet: unknown provenance, dropped
    assert not old.exists() and (tmp_path / "compiled-kernels.sha256").is_file()
    fresh = tmp_path / "compiled_workday.fill_idle-9.py312.nbc"
    fresh.write_text("fresh")
    kernel_cache.drop_stale_kernels()  # same sources: kept
    assert fresh.exists()
    (tmp_path / "compiled-kernels.sha256").write_text("digest of other sources")
    kernel_cache.drop_stale_kernels()
    assert not fresh.exists()


@pytest.mark.parametrize("engine_class", [QueueEngine, CompiledEngine])
@pytest.mark.parametrize(("working_time", "arrives"), [
    # handed on at Friday 16:00 with 16 h: on the clock Saturday 08:00; in office time the
    # hour left on Friday, then Monday's eight, then seven on Tuesday: Tuesday 16:00
    (False, 5 * DAY + 8 * 60.0),
    (True, 8 * DAY + 16 * 60.0),
])
def test_hand_off_delays_count_office_hours_when_asked(engine_class, working_time: bool,
                                                       arrives: float) -> None:
    office = WeeklyCalendar(9, 17, [0, 1, 2, 3, 4])  # day 0 is a Monday
    engine = engine_class([1, 1], [office, office], office, handoff_working_time=working_time)
    # one request: 60 minutes at unit 0 from Friday 15:00, then unit 1 after a 16-hour hand-off
    legs = Legs(np.zeros(2, dtype=np.int64), np.array([0, 1]), np.array([60.0, 30.0]), np.zeros(2),
                np.array([0.0, 16 * 60.0]), np.zeros(2, dtype=bool), np.zeros(2, dtype=bool))
    engine.add(np.array([4 * DAY + 15 * 60.0]), legs)
    engine.run_until(14 * DAY)
    log = engine.log()
    assert log.leg_end[0] == 4 * DAY + 16 * 60.0
    assert log.leg_arrive[1] == arrives


@pytest.mark.parametrize("name", ["township", "longgang-2021"])
def test_engines_agree_when_hand_offs_count_office_hours(name: str) -> None:
    extra = {"handoff.working_time": True}
    reference, ref_resolved = _log(SCENARIOS / f"{name}.toml", "reference", 21, 0.002, **extra)
    compiled, com_resolved = _log(SCENARIOS / f"{name}.toml", "compiled", 21, 0.002, **extra)
    assert ref_resolved == com_resolved > 1000
    for field in ("leg_arrive", "leg_start", "leg_end", "ready"):
        assert np.array_equal(getattr(reference, field), getattr(compiled, field), equal_nan=True), field


@pytest.mark.parametrize("engine_class", [QueueEngine, CompiledEngine])
def test_running_to_infinity_drains_the_queue(engine_class) -> None:
    """``run_until(inf)`` serves everything and stops (the compiled loop once read past its last
    arrival here: a segmentation fault in ``benchmarks/ciw_compare.py``)."""
    always = WeeklyCalendar(0, 24, list(range(7)))
    engine = engine_class([2, 1], [always, always], always)
    n = 50
    rng = np.random.default_rng(3)
    no = np.zeros(2 * n, dtype=bool)
    engine.add(np.sort(rng.uniform(0, 100, n)),
               Legs(np.repeat(np.arange(n), 2), np.tile([0, 1], n), rng.exponential(2.0, 2 * n),
                    np.zeros(2 * n), np.zeros(2 * n), no, no))
    engine.run_until(float("inf"))
    log = engine.log()
    assert np.isfinite(log.ready).all() and len(log.ready) == n
    assert engine.resolved_by(float("inf")) == n


@pytest.mark.parametrize("hint", [(0, 0), (10, 15), (5_000, 9_000)])
def test_a_size_hint_changes_nothing(hint: tuple[int, int]) -> None:
    """``expect`` only sets room aside (too little, some, far too much): the log is the same as
    without it, and the views of ``log(copy=False)`` equal the copies."""
    always = WeeklyCalendar(8, 17, [0, 1, 2, 3, 4])
    rng = np.random.default_rng(9)

    def served(with_hint: bool):
        engine = CompiledEngine([2, 1], [always, always], always)
        if with_hint:
            engine.expect(*hint)
        for day in range(3):  # added in three batches, as a model adds its days
            n = 40
            no = np.zeros(2 * n, dtype=bool)
            engine.add(np.sort(rng.uniform(day * DAY, (day + 1) * DAY, n)),
                       Legs(np.repeat(np.arange(n), 2), np.tile([0, 1], n), rng.exponential(30.0, 2 * n),
                            np.zeros(2 * n), np.zeros(2 * n), no, no))
            engine.run_until((day + 1) * DAY)
        return engine

    rng = np.random.default_rng(9)
    plain = served(False)
    rng = np.random.default_rng(9)
    hinted = served(True)
    for field in ("leg_arrive", "leg_start", "leg_end", "leg_start_work", "leg_end_work", "ready"):
        a, b = getattr(plain.log(), field), getattr(hinted.log(), field)
        assert len(a) == (120 if field == "ready" else 240)
        assert np.array_equal(a, b, equal_nan=True), field
        assert np.array_equal(getattr(hinted.log(copy=False), field), b, equal_nan=True), field


def _two_leg_batch(n: int, rng: np.random.Generator, unit: int = 1) -> Legs:
    no = np.zeros(2 * n, dtype=bool)
    return Legs(np.repeat(np.arange(n), 2), np.tile([0, unit], n), rng.exponential(5.0, 2 * n),
                np.zeros(2 * n), rng.exponential(3.0, 2 * n), no, no)


@pytest.mark.parametrize("damage", ["nan_created", "inf_service", "negative_handoff", "unit", "request",
                                    "legless"])
def test_the_compiled_core_refuses_a_bad_batch_before_writing_any_of_it(damage: str) -> None:
    """The kernel indexes without bounds checks, so a bad batch must be refused, whole: a
    ValueError naming what is wrong, and the engine as it was (the next good batch is served as
    if the bad one had never been offered)."""
    always = WeeklyCalendar(0, 24, list(range(7)))
    rng = np.random.default_rng(4)
    created, legs = np.sort(rng.uniform(0, 50, 6)), _two_leg_batch(6, rng)
    bad_created, bad = created.copy(), _two_leg_batch(6, rng)
    if damage == "nan_created":
        bad_created[2] = np.nan
    elif damage == "inf_service":
        bad.service[3] = np.inf
    elif damage == "negative_handoff":
        bad.handoff[5] = -1.0
    elif damage == "unit":
        bad.unit[4] = 2
    elif damage == "request":
        bad.request[-1] = 6
    else:
        bad.request[-2:] = 4  # request 5 has no leg
    logs = []
    for offer_bad in (False, True):
        engine = CompiledEngine([1, 1], [always, always], always)
        if offer_bad:
            with pytest.raises(ValueError, match="compiled core"):
                engine.add(bad_created, bad)
            assert (engine.n_requests, engine.n_legs) == (0, 0)
        engine.add(created, legs)
        engine.run_until(float("inf"))
        logs.append(engine.log())
    for field in ("leg_arrive", "leg_start", "leg_end", "ready"):
        assert np.array_equal(getattr(logs[0], field), getattr(logs[1], field)), field


def test_batches_whose_first_visits_are_out_of_order_are_served_as_the_reference_serves_them() -> None:
    """First arrivals (creation + hand-off) out of time order, at times tied with visits
    already waiting (whole minutes): the compiled core's merge equals the reference's sort."""
    always = WeeklyCalendar(0, 24, list(range(7)))
    rng = np.random.default_rng(12)
    engines = [cls([1, 2], [always, always], always) for cls in (QueueEngine, CompiledEngine)]
    for day in range(4):
        n = 30
        created = np.sort(np.round(rng.uniform(day * 60, day * 60 + 90, n)))
        legs = _two_leg_batch(n, rng)
        legs.handoff[::2] = np.round(rng.uniform(0, 40, n))  # first legs' hand-offs reorder arrivals
        for engine in engines:
            engine.add(created, legs)
            engine.run_until((day + 1) * 60.0)
    for engine in engines:
        engine.run_until(float("inf"))
    reference, compiled = (e.log() for e in engines)
    for field in ("leg_arrive", "leg_start", "leg_end", "ready"):
        assert np.array_equal(getattr(reference, field), getattr(compiled, field), equal_nan=True), field
