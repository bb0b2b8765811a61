"""The explorer (issue 15): its session logic directly, and the page in headless Chromium.

The page test starts ``solara run`` as ``make explore`` does, loads it in Debian's Chromium
through Playwright, checks there are no console errors, runs a small scenario, toggles a reform
and runs again (the KPI shown must change), downloads the scenario file, runs it with
``run.py run`` and finds the page's numbers in its KPIs, and saves a screenshot.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from sim.errors import ScenarioError
from sim.experiments.api import run_scenario
from sim.explore.session import (
    Settings,
    Watch,
    build,
    format_headline,
    headline,
    reform_menu,
    scenario_file,
)
from tests.conftest import ROOT

SMALL = {"scale": 0.002, "days": 21, "seed": 3}


def test_a_run_watched_in_pieces_equals_one_run() -> None:
    settings = Settings("township", **SMALL)
    watch = Watch(build(settings))
    while not watch.done:
        watch.advance(5)
    whole = run_scenario(ROOT / "scenarios" / "township.toml", seed=3, scale=0.002, days=21)
    assert headline(watch.kpis) == headline(whole.kpis)
    assert watch.series.day == list(range(1, 22))
    collected = whole.model.datacollector.get_model_vars_dataframe()  # the model's own series
    assert watch.series.open == collected["open"].tolist()
    assert watch.series.resolved == collected["resolved"].tolist()
    # staff hours on requests, day by day, add up to the engine's service minutes of finished legs
    engine = whole.model.engine
    end = engine.log().leg_end
    legs_done = engine.leg_service()[~np.isnan(end) & (end < 21 * 1440.0)].sum() / 60.0
    assert sum(watch.series.staff_hours) == pytest.approx(legs_done, rel=1e-9)


def test_the_downloaded_file_reproduces_the_page(tmp_path: Path) -> None:
    settings = Settings("township", reforms={"one_team": True, "platform": True},
                        staff_share={"department": 0.8}, overrides={"simulation.demand_factor": 1.2}, **SMALL)
    watch = Watch(build(settings))
    watch.advance(SMALL["days"])
    path = tmp_path / "explored.toml"
    path.write_text(scenario_file(settings))
    assert headline(run_scenario(path).kpis) == headline(watch.kpis)


def test_reforms_come_with_the_reference_citys_parameters() -> None:
    menu = {o.name: o for o in reform_menu("township")}
    assert not any(o.on for o in menu.values())
    assert menu["one_team"].numbers["staff"] == 59  # as in longgang-2021 (M4)
    flat = {o.name: o for o in reform_menu("longgang-2021")}
    assert flat["one_team"].on and not flat["districts"].on


@pytest.mark.parametrize(("settings", "key"), [
    (Settings("township", overrides={"handoff.delay_hours": -1}), "handoff.delay_hours"),
    (Settings("township", overrides={"handoff.no_such_key": 1}), "no_such_key"),
    (Settings("township", numbers={"one_team": {"staff": 0}}, reforms={"one_team": True}), "staff"),
    (Settings("no/such/file.toml"), "no such scenario file"),
])
def test_bad_settings_get_the_command_lines_one_line(settings: Settings, key: str) -> None:
    with pytest.raises(ScenarioError) as info:
        build(settings)
    line = info.value.one_line()
    assert key in line and "\n" not in line and line.startswith("error: ")


def test_demand_factor_scales_every_rate() -> None:
    base = run_scenario(ROOT / "scenarios" / "township.toml", seed=4, scale=0.002, days=14)
    more = run_scenario(ROOT / "scenarios" / "township.toml", seed=4, scale=0.002, days=14,
                        overrides={"simulation.demand_factor": 1.5})
    ratio = more.kpis["requests_created"] / base.kpis["requests_created"]
    assert 1.4 < ratio < 1.6  # Poisson counts of ~20,000: 1.5 within a few standard errors


# ---------------------------------------------------------------------------------------------
# the page in a browser

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    pytest.importorskip("solara")
    cache = Path(sys.prefix) / "share" / "solara" / "cdn"
    if not any(cache.glob("@widgetti/solara-vuetify3-app@*/.complete")):
        subprocess.run([sys.executable, str(ROOT / "tools" / "solara-cdn"), sys.prefix], timeout=300)
    if not any(cache.glob("@widgetti/solara-vuetify3-app@*/.complete")):
        pytest.skip("Solara's page assets could not be fetched from the npm registry (tools/solara-cdn)")
    port = _free_port()
    env = {**os.environ, "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False"}
    proc = subprocess.Popen([sys.executable, "-m", "solara", "run", str(ROOT / "sim" / "explore" / "app.py"),
                             "--host", "127.0.0.1", "--port", str(port), "--production", "--no-open"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"solara exited: {proc.stdout.read().decode()[-2000:]}")
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("the explorer did not start within 90 s")
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def _browser(playwright):
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.skip("Debian's chromium is not installed (tools/ensure-chromium installs it as root)")
    return playwright.chromium.launch(executable_path=chromium, args=[
        "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"])


def _figure(page, label: str) -> str:
    """The value the page's KPI table shows for ``label`` (current run's column)."""
    row = page.locator("tr", has=page.locator("td", has_text=label)).first
    return row.locator("td").nth(1).inner_text().strip()


def _run_and_wait(page, number: int, timeout_s: float = 240) -> None:
    """Click Run and wait until run ``number`` of the page has finished and shows its KPIs."""
    page.get_by_role("button", name="Run").click()
    done = f"run {number}: "
    page.wait_for_function(f"() => document.body.innerText.includes({done!r}) && "
                           f"document.body.innerText.includes('day {SMALL['days']} of {SMALL['days']}')",
                           timeout=timeout_s * 1000)
    page.locator("td", has_text="requests created").first.wait_for(timeout=timeout_s * 1000)


def test_the_page_runs_toggles_downloads_and_reproduces(server: str, tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    errors: list[str] = []
    with playwright.sync_playwright() as p:
        browser = _browser(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server, wait_until="load")
        page.get_by_role("button", name="Run").wait_for(timeout=90_000)
        page.get_by_label("days").fill(str(SMALL["days"]))
        page.get_by_label("days").press("Enter")
        page.get_by_label("seed").fill(str(SMALL["seed"]))
        page.get_by_label("seed").press("Enter")
        page.get_by_label("scale").fill(str(SMALL["scale"]))
        page.get_by_label("scale").press("Enter")
        _run_and_wait(page, 1)
        staff_before = _figure(page, "staff (headcount)")
        page.get_by_role("button", name="Save as baseline").click()

        page.get_by_label("one_team").check()
        # the page has taken the toggle when it shows the reform's own numbers (a Run clicked
        # before that round trip once ran without it, on a loaded machine)
        page.get_by_label("one_team.staff").wait_for(timeout=60_000)
        _run_and_wait(page, 2)
        staff_after = _figure(page, "staff (headcount)")
        assert staff_after != staff_before  # one team replaces nine departments' teams (M4)
        shown = {label: _figure(page, label) for label in format_headline(_headline_labels())}

        with page.expect_download() as download:
            page.get_by_text("Download scenario").click()
        path = tmp_path / "explored.toml"
        download.value.save_as(path)
        page.screenshot(path=str(tmp_path / "explorer.png"), full_page=True)

        page.get_by_label("more settings (KEY = VALUE lines, as --set)").fill("handoff.delay_hours = -3")
        page.get_by_label("seed").click()  # leave the text area: its value is taken on blur
        page.get_by_role("button", name="Run").click()
        page.get_by_text("handoff.delay_hours").last.wait_for(timeout=30_000)
        message = page.locator(".v-alert", has_text="error:").first.inner_text()
        browser.close()
    assert errors == []
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, str(ROOT / "run.py"), "run", str(path), "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    reproduced = format_headline(headline(json.loads((out / "kpis.json").read_text())))
    assert reproduced == shown
    assert "handoff.delay_hours" in message and ">= 0" in message
    assert (tmp_path / "explorer.png").stat().st_size > 20_000


def _headline_labels() -> dict[str, None]:
    settings = Settings("township", scale=0.002, days=1, seed=1)
    watch = Watch(build(settings))
    watch.advance(1)
    return dict.fromkeys(headline(watch.kpis))
