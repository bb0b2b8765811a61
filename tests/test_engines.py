"""The compiled queueing core agrees with the reference Python loop, request by request."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.city.model import GovernanceModel
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
