"""Figures and report from a small saved batch: the right series, the batch's numbers, files
written, reproducible, and a report that renders in a real headless browser."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.lines import Line2D
from matplotlib.patches import PathPatch, Rectangle

from sim.report import figures as plots
from sim.report.figure_data import BatchData
from tests.conftest import TINY, run_cli

SCENARIOS = ("tiny", "lean")


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report")
    (root / "tiny.toml").write_text(TINY + '[geography]\nmodel = "map"\n')  # the map figures too
    (root / "lean.toml").write_text('extends = "tiny.toml"\nname = "lean"\n[[reforms]]\nname = "platform"\n'
                                    '[[reforms]]\nname = "staff_share"\nshare = 0.5\n')
    out = root / "out"
    result = run_cli("compare", str(root / "tiny.toml"), str(root / "lean.toml"), "--reps", "2",
                     "--days", "12", "--scale", "1", "--workers", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "report:" in result.stdout
    # attribution and sensitivity results in the folder feed figures 6 and 7
    attribution = run_cli("attribute", str(root / "tiny.toml"), str(root / "lean.toml"), "--reps", "1",
                          "--days", "4", "--workers", "1", "--out", str(out / "attribute"))
    assert attribution.returncode == 0, attribution.stderr
    (root / "s.toml").write_text('scenario = "tiny.toml"\noutputs = ["staff_cost"]\n'
                                 '[parameters."units.section.staff"]\nrange = [1, 4]\n')
    sensitivity = run_cli("sensitivity", str(root / "s.toml"), "--n", "4", "--days", "2", "--workers", "1",
                          "--out", str(out / "sensitivity"))
    assert sensitivity.returncode == 0, sensitivity.stderr
    rerender = run_cli("plot", str(out))
    assert rerender.returncode == 0, rerender.stderr
    return out


@pytest.fixture(scope="module")
def data(batch: Path) -> BatchData:
    return BatchData.load(batch)


def _runs(batch: Path) -> pd.DataFrame:
    return pd.read_parquet(batch / "runs.parquet")


def test_share_by_level_bars_are_the_batch_means(batch: Path, data: BatchData) -> None:
    fig = plots.share_by_level(data)
    runs = _runs(batch)
    for level in data.levels():
        bars = [p for p in fig.axes[0].patches if p.get_gid() == level]
        assert len(bars) == len(SCENARIOS)
        for bar, scenario in zip(bars, SCENARIOS, strict=True):
            expected = runs[runs["scenario"] == scenario][f"kpi.share_resolved_by_level.{level}"].mean()
            assert bar.get_height() == pytest.approx(expected)


def test_staff_vs_service_points_are_the_batch_means(batch: Path, data: BatchData) -> None:
    fig = plots.staff_vs_service(data)
    runs = _runs(batch)
    for scenario in SCENARIOS:
        lines = [a for a in fig.axes[0].get_children() if isinstance(a, Line2D) and a.get_gid() == scenario]
        assert lines, scenario
        expected = runs[runs["scenario"] == scenario]["kpi.staff_cost"].mean() / 1e6
        assert lines[0].get_xdata()[0] == pytest.approx(expected)


def test_backlog_lines_are_the_replication_means(batch: Path, data: BatchData) -> None:
    fig = plots.backlog(data)
    for scenario in SCENARIOS:
        line = next(a for a in fig.axes[0].lines if a.get_gid() == scenario)
        runs = _runs(batch)
        ids = runs[runs["scenario"] == scenario]["run_id"]
        series = [json.loads((batch / "runs" / f"{i}.json").read_text())["kpis"]["backlog_by_day"]
                  for i in ids]
        assert np.allclose(line.get_ydata(), np.mean(series, axis=0))


def test_resolution_boxes_one_per_scenario_with_batch_medians(batch: Path, data: BatchData) -> None:
    fig = plots.resolution_times(data)
    runs = _runs(batch)
    ax = fig.axes[0]
    category = data.categories()[0]
    boxes = [p for p in ax.patches if isinstance(p, PathPatch) and p.get_gid() in SCENARIOS]
    assert [b.get_gid() for b in boxes] == list(SCENARIOS)
    medians = [line for line in ax.lines if line.get_linewidth() == 2]
    for median, scenario in zip(medians, SCENARIOS, strict=True):
        expected = runs[runs["scenario"] == scenario][f"kpi.resolution_hours.{category}.p50"].mean()
        assert median.get_ydata()[0] == pytest.approx(expected)


def test_flows_map_and_optional_figures_carry_their_series(data: BatchData) -> None:
    flows = plots.request_flows(data)
    assert len(flows.axes) == len(SCENARIOS)
    for ax in flows.axes:
        assert ax.images[0].get_array().sum() == pytest.approx(1.0)
    org = plots.organisation_map(data)
    gids = {p.get_gid() for ax in org.axes for p in ax.patches if isinstance(p, Rectangle)}
    assert {"tiny:centre", "lean:section"} <= gids
    waterfall = plots.reform_waterfall(data)
    reforms = {p.get_gid() for ax in waterfall.axes for p in ax.patches}
    assert {"1:platform", "2:staff_share"} <= reforms
    sens = plots.sensitivity(data)
    assert len(sens.axes[0].patches) == 2  # first and total order for one parameter


def test_map_figures_draw_the_scenarios_on_a_map_with_their_batch_means(data: BatchData) -> None:
    """Each community's colour is its mean over the replications."""
    from matplotlib.collections import PolyCollection

    assert list(data.maps) == ["tiny", "lean"]
    fig = plots.map_choropleths(data)
    collections = {c.get_gid(): c for ax in fig.axes for c in ax.collections if isinstance(c, PolyCollection)}
    shown = collections["lean:resolution_hours"].get_array()
    runs = [np.array([np.nan if v is None else v for v in k["geography"]["by_community"]["resolution_hours"]],
                     dtype=float) for k in data.main_runs("lean")]
    expected = np.nanmean(np.vstack(runs), axis=0)
    owner = [i for i, parts in enumerate(data.maps["lean"]["layers"]["community"]) for _ in parts]
    assert np.ma.filled(shown, np.nan) == pytest.approx(expected[owner], nan_ok=True)
    organisation = plots.map_organisation(data)
    assert [ax.get_title() for ax in organisation.axes] == ["tiny", "lean"]


def test_missing_data_gives_a_message_not_a_crash(tmp_path: Path, data: BatchData) -> None:
    empty = BatchData(tmp_path, [], data.runs.iloc[0:0], {}, {}, pd.DataFrame(), None, None, None)
    for name, (function, _) in plots.FIGURES.items():
        fig = function(empty)
        texts = [t.get_text() for ax in fig.axes for t in ax.texts]
        assert any(texts), name


def test_files_report_and_rerender(batch: Path, data: BatchData) -> None:
    figures = batch / "figures"
    for name in plots.FIGURES:
        assert (figures / f"{name}.png").stat().st_size > 1000
        assert (figures / f"{name}.svg").stat().st_size > 1000
    report = (batch / "report.html").read_text()
    assert report.count("<img ") == len(plots.FIGURES)
    assert "http://" not in report and "https://" not in report  # opens with no network
    runs = _runs(batch)
    for scenario in SCENARIOS:
        assert scenario in report
        cost = runs[runs["scenario"] == scenario]["kpi.staff_cost"].mean() / 1e6
        assert f"{cost:,.1f}" in report
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in figures.iterdir()}
    before["report.html"] = hashlib.sha256((batch / "report.html").read_bytes()).hexdigest()
    result = run_cli("plot", str(batch))
    assert result.returncode == 0, result.stderr
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in figures.iterdir()}
    after["report.html"] = hashlib.sha256((batch / "report.html").read_bytes()).hexdigest()
    assert after == before


def test_plot_on_a_folder_without_a_batch_is_one_line(tmp_path: Path) -> None:
    result = run_cli("plot", str(tmp_path))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "runs.parquet" in result.stderr


def test_report_renders_in_headless_chromium(batch: Path, tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.skip("Debian's chromium is not installed (tools/ensure-chromium installs it as root)")
    errors: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((batch / "report.html").resolve().as_uri(), wait_until="load")
        widths = page.evaluate("Array.from(document.images).map(i => i.complete ? i.naturalWidth : 0)")
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert errors == []
    assert len(widths) == len(plots.FIGURES) and all(w > 0 for w in widths)
    assert (tmp_path / "report.png").stat().st_size > 10_000
