"""Hostile but fair input: every value is finite and bounded, every name exists, errors name the
file and key that hold the problem, flags and sweep files are checked before any work, and a
fuzz of the shipped files ends in exit 0 with sane KPIs or exit 2 with one line.

Calls go through ``sim.cli.main`` in this process (fast); an exception other than the one-line
``ScenarioError`` would fail the test with its traceback, and a crash of the compiled core
would end the test run.
"""

from __future__ import annotations

import copy
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.cli import main
from sim.engine.calendars import WeeklyCalendar
from sim.engine.compiled import CompiledEngine
from sim.engine.legs import Legs
from sim.errors import ScenarioError
from sim.experiments.sweep import MAX_POINTS
from sim.scenario.footprint import check_footprint, expected_requests
from sim.scenario.loading import load_scenario, read_raw
from sim.scenario.reforms import REFORMS
from sim.scenario.schema import SCENARIO, Field
from sim.scenario.toml_writer import dumps
from tests.conftest import ROOT, SCENARIOS

TOWNSHIP = SCENARIOS / "township.toml"
QUICK = ["--days", "3", "--scale", "0.002"]


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


def one_line(code: int, err: str, *must_contain: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for text in must_contain:
        assert text in lines[0], (text, lines[0])


def child(tmp_path: Path, body: str, name: str = "child") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(f'extends = "{TOWNSHIP}"\nname = "{name}"\n{body}\n')
    return path


# --- every numeric key is finite and bounded --------------------------------------------------


def _numeric_fields(schema: dict[str, Field], prefix: str = "") -> list[tuple[str, Field]]:
    out = []
    for name, spec in schema.items():
        if spec.schema:
            out += _numeric_fields(spec.schema, f"{prefix}{name}.")
        if spec.values is not None:
            out += _numeric_fields({"*": spec.values}, f"{prefix}{name}.")
        if spec.kind in ("int", "number", "list[int]", "list[number]"):
            out.append((f"{prefix}{name}", spec))
    return out


def test_every_numeric_key_has_an_upper_bound() -> None:
    fields = _numeric_fields(SCENARIO)
    for reform in REFORMS.values():
        fields += _numeric_fields(reform.params, f"reforms.{reform.name}.")
    assert len(fields) > 40
    unbounded = [name for name, spec in fields if spec.maximum is None]
    assert not unbounded, f"numeric keys without an upper bound: {unbounded}"


ISSUE_CASES = {  # the crashes and nonsense reported in the issue, each now one line
    "screening_inf": ("[handoff]\nscreening_minutes = inf", "handoff.screening_minutes", "finite"),
    "visit_inf": ("[requests.certificate]\nvisit_minutes = inf", "requests.certificate.visit_minutes",
                  "finite"),
    "share_inf": ('[[reforms]]\nname = "staff_share"\nshare = inf', "reforms[0].share", "finite"),
    "share_huge": ('[[reforms]]\nname = "staff_share"\nshare = 1e30', "reforms[0].share", "<= 10"),
    "count_huge": ("[units.grid]\ncount = 1e308", "units.grid.count", "<= 20,000"),
    "staff_int64": ("[units.grid]\nstaff = 9223372036854775807", "units.grid.staff", "<= 10,000"),
    "shares_inf": ("[requests.complaint]\nfunction_shares = { enforce_market = inf }",
                   "requests.complaint.function_shares.enforce_market", "finite"),
    "rate_huge": ("[requests.certificate]\nrate_per_year = 1e9", "requests.certificate.rate_per_year", "<="),
    "residents_huge": ("[population]\nresidents = 1000000000000", "population.residents", "<="),
    "cost_inf": ("[units.grid]\ncost_per_staff = inf", "units.grid.cost_per_staff", "finite"),
    "travel_inf": ("[requests.complaint]\ntravel_minutes = inf", "requests.complaint.travel_minutes",
                   "finite"),
    "sla_inf": ("[requests.complaint]\nsla_hours = inf", "requests.complaint.sla_hours", "finite"),
    "reform_name_list": ('[[reforms]]\nname = ["one_seal"]', "reforms[0].name", "allowed"),
    "unit_function_typo": ('[units.grid]\nfunctions = ["neighbourhood_incident", "dispute_mediaton"]',
                           "units.grid.functions[1]", "closest: dispute_mediation"),
    "request_function_typo": ("[requests.complaint]\nfunction_shares = { enforce_markt = 1.0 }",
                              "requests.complaint.function_shares.enforce_markt", "enforce_market"),
    "reform_function_typo": ('[[reforms]]\nname = "community_centre"\nfunctions = ["civil_afairs"]',
                             "reforms[0].functions[0]", "closest: civil_affairs"),
    "grid_role_typo": ('[[reforms]]\nname = "grids"\nroles = ["incidnet"]', "reforms[0].roles[0]",
                       "unknown function"),
    "module_segment": ('[[reforms]]\nname = "modules"\n[reforms.modules.m]\nfunctions = ["civil_affairs"]\n'
                       'staff = 3\nsegments = ["aliens"]', "reforms[0].modules.m.segments[0]", "one of"),
    "control_character": ('description = "a\\u0000b"', "description", "control characters"),
    "rate_too_much_memory": ("[requests.certificate]\nrate_per_year = 9999", "requests", "GB"),
}


@pytest.mark.parametrize("case", sorted(ISSUE_CASES))
def test_reported_crash_is_one_line(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body, key, text = ISSUE_CASES[case]
    path = child(tmp_path, body)
    code, err = cli(capsys, "run", str(path), "--days", "365", "--scale", "0.002",
                    "--out", str(tmp_path / "out"))
    one_line(code, err, str(path), key, text)
    assert not (tmp_path / "out").exists()


# --- errors name the file and the key as written ----------------------------------------------


def test_error_in_a_parent_file_is_blamed_on_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "common").mkdir()
    city = (SCENARIOS / "common" / "city.toml").read_text()
    bad_city = city.replace("warmup_days = 120 ", "warmup_days = -3 ")
    assert bad_city != city
    (tmp_path / "common" / "city.toml").write_text(bad_city)
    township = tmp_path / "township.toml"
    township.write_text(TOWNSHIP.read_text())
    (tmp_path / "calibration").mkdir()  # the township's fitted values, which it names
    for fitted in (SCENARIOS / "calibration").glob("*.toml"):
        (tmp_path / "calibration" / fitted.name).write_text(fitted.read_text())
    (tmp_path / "child.toml").write_text('extends = "township.toml"\nname = "c"\n')
    code, err = cli(capsys, "run", str(tmp_path / "child.toml"), *QUICK, "--out", str(tmp_path / "o"))
    one_line(code, err, str(tmp_path / "common" / "city.toml"), "simulation.warmup_days")


def test_reform_error_in_a_parent_names_its_own_index(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    parent = tmp_path / "parent.toml"
    parent.write_text(f'extends = "{TOWNSHIP}"\nname = "p"\n[[reforms]]\nname = "platform"\n'
                      '[[reforms]]\nname = "staff_share"\nshare = -1\n')
    kid = tmp_path / "kid.toml"
    kid.write_text('extends = "parent.toml"\nname = "k"\n[[reforms]]\nname = "one_team"\nstaff = 40\n')
    code, err = cli(capsys, "run", str(kid), *QUICK, "--out", str(tmp_path / "o"))
    one_line(code, err, str(parent), "reforms[1].share")
    kid.write_text('extends = "parent.toml"\nname = "k"\n[[reforms]]\nname = "one_team"\nstaff = 0\n')
    parent.write_text(f'extends = "{TOWNSHIP}"\nname = "p"\n[[reforms]]\nname = "platform"\n')
    code, err = cli(capsys, "run", str(kid), *QUICK, "--out", str(tmp_path / "o"))
    one_line(code, err, str(kid), "reforms[0].staff")


def test_override_errors_stay_with_the_command(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(TOWNSHIP, {"simulation.warmup_days": -1})
    assert info.value.path == str(TOWNSHIP) and info.value.key == "simulation.warmup_days"


# --- memory, and the compiled core's guard ----------------------------------------------------


def test_footprint_refuses_what_does_not_fit() -> None:
    scenario = load_scenario(TOWNSHIP, {"simulation.days": 30})
    check_footprint(scenario, "x", available=64e9)
    with pytest.raises(ScenarioError, match="GB"):
        check_footprint(scenario, "x", available=0.5e9)


def test_expected_requests_match_the_run() -> None:
    from sim.experiments.api import run_scenario

    result = run_scenario(TOWNSHIP, seed=3, scale=0.002, days=60)
    expected = expected_requests(load_scenario(TOWNSHIP, {"simulation.days": 60}))
    # Poisson counts over 60 days: about 70,000 requests, sd about 0.4 %; calendars spread the
    # yearly rate over open days, so 60 days hold 60/365 of it up to the weekday mix (< 3 %)
    assert result.kpis["requests_created"] == pytest.approx(expected, rel=0.05)


def test_compiled_core_refuses_bad_input_instead_of_crashing() -> None:
    always = WeeklyCalendar(0, 24, list(range(7)))
    engine = CompiledEngine([1], [always], always)
    ones, zero = np.ones(1), np.zeros(1, dtype=np.int64)
    with pytest.raises(ValueError, match="unit index"):
        engine.add(np.zeros(1), Legs(zero, np.array([5]), ones, ones * 0, ones * 0, zero > 0, zero > 0))
    with pytest.raises(ValueError, match="service"):
        engine.add(np.zeros(1), Legs(zero, zero, ones * math.inf, ones * 0, ones * 0, zero > 0, zero > 0))


# --- flags, output folders, sweep files -------------------------------------------------------

FLAG_CASES = [
    (["run", str(TOWNSHIP), "--seed", "-1"], "--seed"),
    (["compare", str(TOWNSHIP), "--days", "0"], "--days"),
    (["attribute", str(TOWNSHIP), str(SCENARIOS / "longgang-2019.toml"), "--days", "0"], "--days"),
    (["attribute", str(TOWNSHIP), str(SCENARIOS / "longgang-2019.toml"), "--scale", "-1"], "--scale"),
    (["run", str(TOWNSHIP), "--scale", "nan"], "--scale"),
    (["batch", str(TOWNSHIP), "--scheduler", "nonsense", "--out", "/tmp/never-made"], "--scheduler"),
    (["batch", str(TOWNSHIP), "--reps", "0", "--out", "/tmp/never-made"], "--reps"),
    (["sensitivity", "x.toml", "--n", "3"], "--n"),
    (["plot", "/no/such/folder"], "no such folder"),
]


@pytest.mark.parametrize(("argv", "text"), FLAG_CASES, ids=[c[1] + str(i) for i, c in enumerate(FLAG_CASES)])
def test_bad_flags_fail_before_any_work(argv: list[str], text: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    one_line(*cli(capsys, *argv), text)
    assert not Path("/tmp/never-made").exists()


def test_out_under_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for argv in (["run", str(TOWNSHIP), *QUICK], ["batch", str(TOWNSHIP), "--reps", "1", *QUICK],
                 ["validate", "--reps", "1"]):
        one_line(*cli(capsys, *argv, "--out", str(blocker / "sub")), "--out", "is a file")


def test_out_not_writable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders; tests/test_faults.py covers write errors")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    one_line(*cli(capsys, "run", str(TOWNSHIP), *QUICK, "--out", str(locked / "o")), "not writable")


SWEEP_CASES = {
    "not_utf8": (b"\xff\xfe[parameters]\n", "UTF-8"),
    "empty_key": (b'[parameters.""]\nvalues = [1]\n', "key path"),
    "dot_key": (b'[parameters."."]\nvalues = [1]\n', "key path"),
    "samples_huge": (b'design = "lhs"\nsamples = 2e9\n'
                     b'[parameters."handoff.delay_hours"]\nrange = [1.0, 2.0]\n',
                     "samples"),
    "grid_huge": (b'[parameters."handoff.delay_hours"]\nrange = [1.0, 2.0]\nsteps = 100\n'
                  b'[parameters."handoff.delay_cv"]\nrange = [0.5, 2.0]\nsteps = 100\n'
                  b'[parameters."handoff.screening_minutes"]\nrange = [1.0, 2.0]\nsteps = 100\n',
                  f"at most {MAX_POINTS:,}"),
    "range_inf": (b'design = "lhs"\nsamples = 4\n[parameters."handoff.delay_hours"]\nrange = [1.0, inf]\n',
                  "finite"),
    "points_together": (b'[parameters."calendars.office.open_hour"]\nvalues = [8.0, 18.0]\n'
                        b'[parameters."calendars.office.close_hour"]\nvalues = [17.0, 12.0]\n', "point 2"),
    "unknown_key": (b'[parameters."handoff.delay_hourz"]\nvalues = [1.0]\n', "delay_hourz"),
}


@pytest.mark.parametrize("case", sorted(SWEEP_CASES))
def test_bad_sweep_file_is_one_line_before_any_run(case: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    content, text = SWEEP_CASES[case]
    sweep = tmp_path / "sweep.toml"
    sweep.write_bytes(content)
    code, err = cli(capsys, "batch", str(TOWNSHIP), "--sweep", str(sweep), "--reps", "1", *QUICK,
                    "--workers", "1", "--out", str(tmp_path / "out"))
    one_line(code, err, str(sweep), text)
    assert not (tmp_path / "out" / "runs").exists()


def test_max_runs_guard(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweep = SCENARIOS / "sweeps" / "township-handoff.toml"
    code, err = cli(capsys, "batch", str(TOWNSHIP), "--sweep", str(sweep), "--reps", "3",
                    "--max-runs", "20", "--out", str(tmp_path / "out"))
    one_line(code, err, "--max-runs", "27 runs")


# --- fuzz: mutate the shipped scenarios ------------------------------------------------------

SHIPPED = {name: read_raw(SCENARIOS / f"{name}.toml") for name in ("township", "longgang-2021")}
NAMES = ["civil_affairs", "no_such_function", "*", "../../etc/passwd", "a\u0000b", "", "x" * 300]
WEIRD = [0, -1, -1e-9, 1e308, 2**63, 2**64, 1e12, math.inf, -math.inf, math.nan, True, "7", [], {},
         [1, 2], {"a": 1}, "one_seal", 0.5, 3, 1e-300]
FACTORS = [0, 0.01, 0.3, 2, 10, 1000]  # plausible-to-extreme rescaling of a number that exists


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


def _get(node: Any, path: tuple) -> Any:
    for part in path:
        node = node[part]
    return node


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _mutate(raw: dict[str, Any], path: tuple, how: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(raw)
    node = data
    for part in path[:-1]:
        node = node[part]
    last = path[-1]
    if how == "delete":
        del node[last]
    elif how == "unknown_key" and isinstance(node, dict):
        node[f"{last}_typo"] = value
    elif how == "scale":
        old = node[last]
        if isinstance(old, int | float) and not isinstance(old, bool):
            node[last] = type(old)(old * value) if math.isfinite(old * value) else old * value
    else:
        node[last] = value
    return data


mutation = st.tuples(st.sampled_from(sorted(SHIPPED)), st.integers(0, 10**6),
                     st.sampled_from(["delete", "replace", "unknown_key", "scale", "scale", "name"]),
                     st.sampled_from(WEIRD), st.sampled_from(FACTORS), st.sampled_from(NAMES))
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "400"))


def check_outcome(code: int, err: str, out: Path) -> str:
    """Exit 0 with strict, finite, conserving KPIs, or exit 2 with one line: nothing else."""
    if code == 2:
        one_line(code, err)
        return "rejected"
    assert code == 0, err
    kpis = json.loads((out / "kpis.json").read_text(), parse_constant=lambda c: pytest.fail(c))
    assert kpis["requests_created"] == kpis["requests_resolved"] + kpis["requests_open"]
    for value in _scalars(kpis):
        assert value is None or math.isfinite(value)
    return "ran"


def _scalars(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return [v for item in node.values() for v in _scalars(item)]
    if isinstance(node, list):
        return [v for item in node for v in _scalars(item)]
    return [node] if isinstance(node, int | float) or node is None else []


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(mutations=st.lists(mutation, min_size=1, max_size=3))
def test_fuzz_shipped_scenarios(mutations: list, tmp_path_factory: pytest.TempPathFactory,
                                capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    base = mutations[0][0]
    raw = SHIPPED[base]
    for _, pick, how, weird, factor, name in mutations:
        paths = _paths(raw)
        if how == "scale":  # only numbers scale: pick among the numeric leaves
            paths = [p for p in paths if _is_number(_get(raw, p))] or paths
        value = {"name": name, "scale": factor}.get(how, weird)
        raw = _mutate(raw, paths[pick % len(paths)], "replace" if how == "name" else how, value)
    try:
        text = dumps(raw)
    except (TypeError, KeyError):
        return  # not expressible in TOML (e.g. a table deleted under its own path)
    scenario = folder / "fuzzed.toml"
    scenario.write_text(text, encoding="utf-8")
    (folder / "common").mkdir()
    out = folder / "out"
    code, err = cli(capsys, "run", str(scenario), *QUICK, "--out", str(out))
    outcome = check_outcome(code, err, out)
    if os.environ.get("FUZZ_STATS"):  # for the issue note: how the cases came out
        with open(os.environ["FUZZ_STATS"], "a") as stats:
            stats.write(f"{outcome}\t{err.strip()[:150]}\n")
    assert {p.name for p in folder.iterdir()} <= {"fuzzed.toml", "common", "out"}


def test_fuzz_reaches_both_outcomes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The fuzz is not vacuous: a mild mutation runs, a wild one is refused."""
    raw = _mutate(SHIPPED["township"], ("handoff", "delay_hours"), "scale", 0.5)
    mild, wild = tmp_path / "mild.toml", tmp_path / "wild.toml"
    mild.write_text(dumps(raw))
    wild.write_text(dumps(_mutate(raw, ("handoff", "delay_hours"), "replace", math.inf)))
    assert check_outcome(*cli(capsys, "run", str(mild), *QUICK, "--out", str(tmp_path / "m")),
                         tmp_path / "m") == "ran"
    assert check_outcome(*cli(capsys, "run", str(wild), *QUICK, "--out", str(tmp_path / "w")),
                         tmp_path / "w") == "rejected"


def test_root_files_untouched() -> None:
    assert not (ROOT / "etc").exists()


SWEEPS = {p.name: __import__("tomllib").loads(p.read_text()) for p in (SCENARIOS / "sweeps").glob("*.toml")}


@settings(max_examples=max(20, FUZZ_EXAMPLES // 4), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(mutations=st.lists(mutation, min_size=1, max_size=2), which=st.sampled_from(sorted(SWEEPS)))
def test_fuzz_shipped_sweeps(mutations: list, which: str, tmp_path_factory: pytest.TempPathFactory,
                             capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path_factory.mktemp("fuzzsweep")
    raw = copy.deepcopy(SWEEPS[which])
    raw.pop("scenario", None)  # batch runs the scenario named on the command line
    raw.pop("outputs", None)
    for _, pick, how, weird, factor, name in mutations:
        paths = _paths(raw)
        if not paths:  # everything deleted already: an empty sweep file is a case too
            break
        value = {"name": name, "scale": factor}.get(how, weird)
        raw = _mutate(raw, paths[pick % len(paths)], "replace" if how == "name" else how, value)
    try:
        text = dumps(raw)
    except (TypeError, KeyError):
        return
    sweep = folder / "sweep.toml"
    sweep.write_text(text, encoding="utf-8")
    out = folder / "out"
    code, err = cli(capsys, "batch", str(TOWNSHIP), "--sweep", str(sweep), "--reps", "1", *QUICK,
                    "--workers", "1", "--max-runs", "40", "--out", str(out))
    assert code in (0, 2), err
    if code == 2:
        one_line(code, err)
    else:
        assert (out / "runs.parquet").is_file()
    if os.environ.get("FUZZ_STATS"):
        with open(os.environ["FUZZ_STATS"] + ".sweeps", "a") as stats:
            stats.write(f"{'ran' if code == 0 else 'rejected'}\t{err.strip()[-150:]}\n")
