"""Every kind of bad input: exit 2, one line on stderr naming the file and the key, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import TINY, run_cli


def _assert_one_line_error(result, *must_contain: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for text in must_contain:
        assert text in lines[0], (text, lines[0])


CASES = {
    "unknown_top_key": (TINY + "\ncolour = 'red'\n", ["colour", "unknown key", "allowed"]),
    "unknown_unit_key": (TINY.replace('count = 4', 'count = 4\nstafff = 2'),
                         ["units.grid.stafff", "unknown key"]),
    "wrong_type": (TINY.replace("residents = 2000", 'residents = "many"'),
                   ["population.residents", "integer"]),
    "negative_rate": (TINY.replace("rate_per_year = 2.0", "rate_per_year = -2.0", 1),
                      ["requests.certificate.rate_per_year", ">= 0"]),
    "out_of_range_share": (TINY.replace("misroute_share = 0.1", "misroute_share = 1.5"),
                           ["handoff.misroute_share", "<= 1"]),
    "zero_staff": (TINY.replace("staff = 2\nknowledge = 2.0", "staff = 0\nknowledge = 2.0", 1),
                   ["units.section.staff", ">= 1"]),
    "unknown_level": (TINY.replace('level = "grid"', 'level = "village"'),
                      ["units.grid.level", "one of"]),
    "unknown_calendar": (TINY.replace('calendar = "always"', 'calendar = "nights"'),
                         ["units.grid.calendar", "nights", "allowed"]),
    "unknown_function": (TINY.replace('steps = ["certificate"]', 'steps = ["passport"]'),
                         ["requests.certificate", "passport"]),
    "unknown_authority_level": (TINY.replace('authority = ["community", "department"]',
                                             'authority = ["community", "ministry"]'),
                                ["requests.certificate.authority[1]", "one of"]),
    "lead_days_length": (TINY.replace("lead_days = [1.0, 2.0]", "lead_days = [1.0]"),
                         ["requests.permit.lead_days", "one value per step"]),
    "review_minutes_length": (TINY.replace("lead_days = [1.0, 2.0]",
                                           "lead_days = [1.0, 2.0]\nreview_minutes = [5.0]"),
                              ["requests.permit.review_minutes", "one value per step"]),
    "correction_share_too_high": (TINY.replace("lead_days = [1.0, 2.0]",
                                               "lead_days = [1.0, 2.0]\ncorrection_share = 1.5"),
                                  ["requests.permit.correction_share", "0.95"]),
    "review_stages_zero": (TINY.replace('functions = ["certificate", "permit"]',
                                        'functions = ["certificate", "permit"]\nreview_stages = 0'),
                           ["units.section.review_stages", ">= 1"]),
    "duty_travel_longer_than_visit": (TINY + '\n[units.section.duties.rounds]\nper = "firm"\n'
                                      'count_per_year = 1.0\nminutes = 10.0\ntravel_minutes = 20.0\n',
                                      ["units.section.duties.rounds.travel_minutes", "at most"]),
    "missing_required": (TINY.replace('category = "upper"\n', ""), ["requests.task.category", "required"]),
    "broken_toml": (TINY + "\n[units.grid\n", ["not valid TOML"]),
    "unknown_reform": (TINY + '\n[[reforms]]\nname = "teleport"\n', ["reforms[0].name", "unknown reform",
                                                                   "platform"]),
    "unknown_reform_param": (TINY + '\n[[reforms]]\nname = "platform"\nspeed = 3\n',
                             ["reforms[0].speed", "unknown key", "misroute_share"]),
    "bad_reform_value": (TINY + '\n[[reforms]]\nname = "staff_share"\nshare = -1\n',
                         ["reforms[0].share", ">= 0"]),
    "reform_unknown_unit": (TINY + '\n[[reforms]]\nname = "staff_share"\nshare = 0.5\nunits = ["nope"]\n',
                            ["reforms[0].units[0]", "unknown unit", "centre"]),
    "missing_extends": ('extends = "nowhere.toml"\nname = "x"\n', ["extends", "nowhere.toml"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_scenario_is_rejected_in_one_line(case: str, tmp_path: Path) -> None:
    text, expected = CASES[case]
    path = tmp_path / f"{case}.toml"
    path.write_text(text)
    result = run_cli("run", str(path), "--days", "1", "--out", str(tmp_path / "out"))
    _assert_one_line_error(result, str(path), *expected)


def test_missing_scenario_file(tmp_path: Path) -> None:
    missing = tmp_path / "does-not-exist.toml"
    _assert_one_line_error(run_cli("run", str(missing)), str(missing), "no such scenario file")


def test_bad_command_line_value_goes_through_validation(tiny_path: Path, tmp_path: Path) -> None:
    result = run_cli("run", str(tiny_path), "--scale", "-1", "--out", str(tmp_path / "o"))
    _assert_one_line_error(result, "--scale", "> 0")  # flags are checked before any file is read


def test_unparseable_option_is_one_line(tiny_path: Path) -> None:
    _assert_one_line_error(run_cli("run", str(tiny_path), "--days", "ten"), "--days", "invalid int")


def test_out_path_that_is_a_file(tiny_path: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    result = run_cli("run", str(tiny_path), "--days", "1", "--out", str(blocker))
    _assert_one_line_error(result, str(blocker), "--out", "not a folder")


def test_compare_checks_every_file_before_running(tiny_path: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    result = run_cli("compare", str(tiny_path), str(missing), "--days", "1")
    _assert_one_line_error(result, str(missing))
    assert "ran tiny" not in result.stderr
