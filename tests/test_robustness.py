"""``robust`` (issue 14, item 3): ranges read from the files, PRIM finds a planted box, the
given-data Sobol estimator recovers analytic indices, and a study gives identical results on
1 and 2 workers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sim.errors import ScenarioError
from sim.experiments.executors import executor_for
from sim.experiments.prim import prim_box
from sim.experiments.ranges import scenario_ranges
from sim.experiments.robustness import first_order_given_data, run_study, wilson
from tests.conftest import ROOT, TINY


def test_prim_finds_a_planted_box() -> None:
    """Failures where x0 > 0.7 and x2 < 0.3 (and 3 % at random elsewhere): the box cuts those two
    assumptions near their edges, and is mostly failures."""
    rng = np.random.default_rng(3)
    x = rng.uniform(size=(3000, 4))
    y = ((x[:, 0] > 0.7) & (x[:, 2] < 0.3)) | (rng.uniform(size=3000) < 0.03)
    box = prim_box(x, y, alpha=0.05, min_support=0.03)
    assert box is not None and set(box.restricted) == {0, 2}
    assert box.lower[0] == pytest.approx(0.7, abs=0.06) and box.upper[2] == pytest.approx(0.3, abs=0.06)
    assert box.density > 0.85 and box.coverage > 0.6
    assert prim_box(x, np.zeros(3000, dtype=bool)) is None  # nothing fails: no box


def test_given_data_first_order_indices_match_the_analytic_ones() -> None:
    """y = x0 + 2 x1 on uniform inputs: S1 = 1/5 and 4/5; x2 has no effect (at the noise floor)."""
    rng = np.random.default_rng(4)
    x = rng.uniform(size=(4000, 3))
    s1, floor = first_order_given_data(x, x[:, 0] + 2 * x[:, 1])
    assert s1[0] == pytest.approx(0.2, abs=0.03) and s1[1] == pytest.approx(0.8, abs=0.03)
    assert s1[2] < 3 * floor


def test_wilson_interval() -> None:
    low, high = wilson(10, 10)
    assert high == pytest.approx(1.0) and low == pytest.approx(0.7225, abs=1e-3)  # textbook: 10 of 10


def _files(folder: Path) -> list[str]:
    (folder / "base.toml").write_text(TINY.replace(
        "delay_hours = 2.0", "delay_hours = 2.0  # assumed: two hours on the desk (range 0.5-8)").replace(
        "misroute_share = 0.1", "misroute_share = 0.1  # assumed: one in ten (range 0-0.3)"))
    (folder / "flat.toml").write_text(
        'extends = "base.toml"\nname = "flat"\n[[reforms]]\nname = "platform"\n'
        'delay_hours = 0.5  # assumed: the platform forwards within half an hour (range 0.1-2)\n'
        '[[reforms]]\nname = "staff_share"\nshare = 2  # assumed: doubled (range 1-3)\n')
    (folder / "conclusions.toml").write_text(
        '[[conclusions]]\nname = "flat is faster"\nkpi = "resolution_hours.personal.mean"\n'
        'scenario = "flat"\nbaseline = "tiny"\nratio_at_most = 1.0\n'
        '[[conclusions]]\nname = "flat costs more"\nkpi = "staff_cost"\nscenario = "flat"\n'
        'baseline = "tiny"\nratio_at_least = 1.0\n')
    return [str(folder / "base.toml"), str(folder / "flat.toml")]


def test_ranges_are_read_beside_the_numbers_along_the_extends_chain(tmp_path: Path) -> None:
    paths = _files(tmp_path)
    ranges, assumed = scenario_ranges(paths[1])
    assert set(ranges) == {"handoff.delay_hours", "handoff.misroute_share", "reforms.platform.delay_hours",
                           "reforms.staff_share.share"}
    assert assumed == 4
    share = ranges["reforms.staff_share.share"]
    assert (share.low, share.high, share.integer) == (1.0, 3.0, True)
    (tmp_path / "bad.toml").write_text('extends = "base.toml"\nname = "bad"\n[handoff]\n'
                                       'delay_hours = 9.0  # assumed: x (range 0.5-8)\n')
    with pytest.raises(ScenarioError, match="outside its assumed range"):
        scenario_ranges(tmp_path / "bad.toml")


def test_the_real_presets_have_ranges_that_contain_their_values() -> None:
    for preset in ("township", "longgang-2021", "staff-cut-only", "longgang-2019"):
        ranges, assumed = scenario_ranges(ROOT / "scenarios" / f"{preset}.toml")
        assert len(ranges) >= 30 and assumed > len(ranges)


def test_a_study_gives_identical_results_on_one_and_two_workers(tmp_path: Path) -> None:
    paths = _files(tmp_path)
    outputs = []
    for workers in (1, 2):
        with executor_for(workers) as executor:
            out = tmp_path / f"out{workers}"
            result = run_study(paths, tmp_path / "conclusions.toml", 8, 5, None, 6, out, executor,
                               progress=False)
        outputs.append((tmp_path / f"out{workers}" / "robust.csv").read_text())
        assert result["study"]["complete_samples"] == 8
        rows = {r["conclusion"]: r for r in result["tables"]["conclusions"]}
        assert rows["flat costs more"]["holds"] == 8  # doubling staff always costs more
    assert outputs[0] == outputs[1]
    # the study folder is a batch folder: its report gets the "how sure are we" section
    proc = subprocess.run([sys.executable, str(ROOT / "run.py"), "plot", str(tmp_path / "out1")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    page = (tmp_path / "out1" / "report.html").read_text()
    assert "How sure are we" in page and "flat costs more" in page and "8 samples" in page
    assert not (tmp_path / "out1" / "summary.csv").exists()  # one run per sample: nothing to average


def test_bad_conclusions_get_one_line(tmp_path: Path) -> None:
    paths = _files(tmp_path)
    (tmp_path / "wrong.toml").write_text('[[conclusions]]\nname = "x"\nkpi = "staff_cost"\n'
                                         'scenario = "nowhere"\nat_most = 1\n')
    proc = subprocess.run([sys.executable, str(ROOT / "run.py"), "robust", *paths, "--conclusions",
                           str(tmp_path / "wrong.toml"), "--n", "2", "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "unknown scenario 'nowhere'" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "o").exists()


def test_the_keys_a_study_samples_are_those_one_refusal_at_a_time_left(tmp_path: Path) -> None:
    """``effective_keys`` judges every ranged key in one pass; it must drop exactly the keys that
    loading again after each refusal (what it did before, some 40,000 builds for the presets)
    dropped: here the hand-off delay and misrouting, which the platform reform sets itself."""
    from sim.experiments.robustness import effective_keys, study_ranges
    from sim.scenario.loading import load_scenario

    paths = _files(tmp_path)
    ranges, keys, _ = study_ranges(paths)
    for path in paths:
        mid = {r.key: (round((r.low + r.high) / 2) if r.integer else (r.low + r.high) / 2)
               for r in ranges if r.key in keys[path]}
        while True:  # the old rule
            try:
                load_scenario(path, mid)
                break
            except ScenarioError as exc:
                assert "would be lost" in exc.message
                del mid[exc.key]
        assert effective_keys(path, ranges, keys[path]) == set(mid)
    flat = effective_keys(paths[1], ranges, keys[paths[1]])
    assert flat == {"reforms.platform.delay_hours", "reforms.staff_share.share"}  # the platform sets both
    base = effective_keys(paths[0], ranges, keys[paths[0]])
    assert base == {"handoff.delay_hours", "handoff.misroute_share"}


def test_a_range_in_a_reforms_own_table_is_keyed_as_overrides_address_it(tmp_path: Path) -> None:
    """``[reforms.modules.people]`` inside a ``[[reforms]]`` entry named ``modules`` is that
    entry's ``modules.people`` table: its ranged staff is ``reforms.modules.modules.people.staff``
    (the key ``load_scenario`` takes), not ``reforms.modules.people.staff``; a later top-level
    table is read as before."""
    from sim.experiments.ranges import file_ranges

    path = tmp_path / "r.toml"
    path.write_text('[[reforms]]\nname = "modules"\n[reforms.modules.people]\nfunctions = ["a"]\n'
                    'staff = 12  # assumed: a module (range 8-16)\n[handoff]\n'
                    'delay_hours = 2.0  # assumed: x (range 1-3)\n')
    keys = {r.key for r in file_ranges(path)[0]}
    assert keys == {"reforms.modules.modules.people.staff", "handoff.delay_hours"}
