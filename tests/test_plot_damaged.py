"""`plot DIR` on a damaged batch folder: one line naming the damaged file (exit 2), or the report
rendered from what can be read with a warning naming what was skipped (exit 0); never a
traceback."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from sim.cli import main
from tests.conftest import SCENARIOS

VALIDATION_HEADER = "fact,check,reported,simulated_mean,ci95_low,ci95_high,tolerance,pass"


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("plotbase") / "batch"
    code = main(["batch", str(SCENARIOS / "township.toml"), str(SCENARIOS / "longgang-2021.toml"),
                 "--reps", "2", "--days", "20", "--scale", "0.002", "--workers", "1", "--out", str(out)])
    assert code == 0
    (out / "validation.csv").write_text(f"{VALIDATION_HEADER}\nF12,x,0.9,0.95,0.94,0.96,0.1,True\n")
    return out


def _first_run(folder: Path) -> Path:
    return sorted((folder / "runs").glob("*.json"))[0]


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


def _all_failed(folder: Path) -> None:
    import pandas as pd

    frame = pd.read_parquet(folder / "runs.parquet")
    frame["status"] = "failed"
    frame.to_parquet(folder / "runs.parquet")


FATAL: dict[str, tuple[Callable[[Path], None], str]] = {  # one line naming the file, exit 2
    "no_runs_parquet": (lambda f: (f / "runs.parquet").unlink(), "no runs.parquet"),
    "truncated_runs_parquet": (lambda f: _truncate(f / "runs.parquet"), "runs.parquet"),
    "garbage_runs_parquet": (lambda f: (f / "runs.parquet").write_text("not parquet"), "runs.parquet"),
    "every_run_failed": (_all_failed, "nothing to plot"),
    "figures_is_a_file": (lambda f: (shutil.rmtree(f / "figures", ignore_errors=True),
                                     (f / "figures").write_text("x")), "figures"),
    "every_run_file_gone": (lambda f: shutil.rmtree(f / "runs"), "nothing to plot"),
}

SKIPPED: dict[str, tuple[Callable[[Path], None], str]] = {  # rendered, with a warning naming the file
    "truncated_run_file": (lambda f: _truncate(_first_run(f)), "runs/"),
    "missing_run_file": (lambda f: _first_run(f).unlink(), "missing"),
    "run_file_without_kpis": (lambda f: _first_run(f).write_text(json.dumps({"kpis": [1, 2]})), "no KPI"),
    "empty_summary": (lambda f: (f / "summary.csv").write_text(""), "summary.csv"),
    "garbage_summary": (lambda f: (f / "summary.csv").write_bytes(b"\xff\xfe\x00garbage"), "summary.csv"),
    "invalid_metadata": (lambda f: (f / "metadata.json").write_text("{not json"), "metadata.json"),
    "metadata_not_an_object": (lambda f: (f / "metadata.json").write_text("[1, 2]"), "metadata.json"),
    "bad_validation_rows": (lambda f: (f / "validation.csv").write_text(
        f"{VALIDATION_HEADER}\nF12,x,0.9,abc,0.94,0.96,0.1,True\n"), "validation.csv"),
}


def _plot(folder: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["plot", str(folder)])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("case", sorted(FATAL))
def test_damaged_required_file_is_one_line(case: str, batch: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "copy"
    shutil.copytree(batch, folder)
    damage, text = FATAL[case]
    damage(folder)
    code, err = _plot(folder, capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    assert text in lines[0] and str(folder) in lines[0]


@pytest.mark.parametrize("case", sorted(SKIPPED))
def test_damaged_optional_file_is_skipped_and_named(case: str, batch: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "copy"
    shutil.copytree(batch, folder)
    damage, text = SKIPPED[case]
    damage(folder)
    code, err = _plot(folder, capsys)
    assert code == 0, err
    warnings = [line for line in err.strip().splitlines() if line.startswith("warning: ")]
    assert warnings and all("skipped" in w for w in warnings) and any(text in w for w in warnings)
    report = (folder / "report.html").read_text()
    assert "Not shown" in report


def test_plot_of_a_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _plot(tmp_path / "nope", capsys)
    assert code == 2 and "no such folder" in err
