"""The explorer page (Solara): set reforms, staffing, demand and assumptions, run, watch, compare.

Start it with ``make explore`` (or ``solara run sim/explore/app.py``). Everything the page does
goes through ``sim.explore.session``: the page builds a ``Settings``, the session turns it into
a scenario exactly as a file would be, and a bad setting shows the command line's one line.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import numpy as np
import solara
import solara.lab
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from sim.errors import ScenarioError
from sim.explore.session import (
    PRESETS,
    STAFF_LEVELS,
    Settings,
    Watch,
    assumptions,
    build,
    format_headline,
    headline,
    map_snapshot,
    reform_menu,
    scenario_file,
)
from sim.scenario.overrides import parse_assignment

STEP_DAYS = 7  # the page redraws every simulated week

scenario_name = solara.reactive("township")
reform_on: solara.Reactive[dict[str, bool]] = solara.reactive({})
numbers: solara.Reactive[dict[str, dict[str, float]]] = solara.reactive({})
staff_share: solara.Reactive[dict[str, float]] = solara.reactive({})
demand = solara.reactive(1.0)
assumed: solara.Reactive[dict[str, float]] = solara.reactive({})
extra = solara.reactive("")
scale = solara.reactive(0.01)
days = solara.reactive(365)
seed = solara.reactive(1)
current: solara.Reactive[dict[str, Any] | None] = solara.reactive(None)
baseline: solara.Reactive[dict[str, Any] | None] = solara.reactive(None)
message = solara.reactive("")
runs = solara.reactive(0)  # runs started on this page (the title of each says which)
report_folder = solara.reactive("results/main")


def parse_extra(text: str) -> dict[str, Any]:
    """``KEY = VALUE`` lines (``#`` comments and blank lines skipped), read as ``--set`` reads them."""
    lines = [line for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return dict(parse_assignment(line, "explorer", "more settings") for line in lines)


def current_settings() -> Settings:
    """The page's settings; a field left empty is refused in one line (the scenario's own
    validation refuses the rest: non-finite, negative or absurd values, unknown keys)."""
    for key, value in (("simulation.scale", scale.value), ("simulation.days", days.value),
                       ("simulation.seed", seed.value)):
        if value is None:
            raise ScenarioError("explorer", key, "must be a number")
    overrides = dict(assumed.value)
    if demand.value != 1.0:
        overrides["simulation.demand_factor"] = float(demand.value)
    overrides.update(parse_extra(extra.value))
    return Settings(scenario=scenario_name.value, reforms=dict(reform_on.value), numbers=dict(numbers.value),
                    staff_share=dict(staff_share.value), overrides=overrides, scale=float(scale.value),
                    days=int(days.value), seed=int(seed.value))


def _snapshot(watch: Watch, settings: Settings, name: str) -> dict[str, Any]:
    snap: dict[str, Any] = {"name": name, "series": watch.series, "day": watch.model.day, "days": watch.days,
                            "map": map_snapshot(watch), "settings": settings}
    if watch.kpis is not None:
        snap["headline"] = headline(watch.kpis)
    return snap


@solara.lab.task
def simulate(settings: Settings) -> None:
    message.set("")
    try:
        watch = Watch(build(settings))
    except ScenarioError as exc:
        message.set(exc.one_line())
        return
    runs.set(runs.value + 1)
    on = [o.name for o in reform_menu(settings.scenario) if settings.reforms.get(o.name, o.on)]
    name = f"run {runs.value}: {settings.scenario}, reforms: {', '.join(on) or 'none'}"
    while not watch.done:
        if not simulate.is_current():
            return
        watch.advance(STEP_DAYS)
        current.set(_snapshot(watch, settings, name))


def _figure(now: dict[str, Any] | None, base: dict[str, Any] | None) -> Figure:
    fig = Figure(figsize=(11, 7.5), layout="constrained")
    axes = fig.subplots(2, 2)
    panels = (("open", "open requests (backlog)"), ("staff_hours", "staff hours on requests a day"),
              ("resolution_hours", "resolution time of matters done that day, h (7-day mean)"))
    for ax, (key, title) in zip(axes.flat, panels, strict=False):
        for run, style in ((base, dict(color="#888888", ls="--", label="baseline")),
                           (now, dict(color="#0072B2", label="current"))):
            if run is None:
                continue
            s = run["series"]
            y = np.asarray(getattr(s, key), dtype=float)
            if key != "open":
                y = _rolling(y, 7)
            ax.plot(s.day, y, **style)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("day")
        ax.grid(alpha=0.3)
        if base is not None and now is not None:
            ax.legend(fontsize=8)
    _map(axes[1, 1], now)
    return fig


def _rolling(y: np.ndarray, window: int) -> np.ndarray:
    out = np.full(len(y), np.nan)
    for i in range(len(y)):
        part = y[max(0, i - window + 1): i + 1]
        part = part[np.isfinite(part)]
        out[i] = part.mean() if len(part) else np.nan
    return out


def _map(ax: Any, now: dict[str, Any] | None) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    if now is None or now["map"] is None:
        ax.axis("off")
        ax.text(0.5, 0.5, "map: run a scenario on a map", ha="center", va="center", transform=ax.transAxes)
        return
    rings, values = now["map"]
    collection = PolyCollection(rings, array=np.ma.masked_invalid(values), cmap="magma_r",
                                edgecolors="white", linewidths=0.3)
    ax.add_collection(collection)
    ax.autoscale_view()
    ax.set_aspect("equal")
    ax.set_title(f"open requests per 1,000 residents by community, day {now['day']}", fontsize=10)
    ax.figure.colorbar(collection, ax=ax, shrink=0.8)


@solara.component
def ReformControls() -> None:
    try:
        menu = reform_menu(scenario_name.value)
    except ScenarioError as exc:
        solara.Error(exc.one_line())
        return
    solara.HTML(tag="div", unsafe_innerHTML="<b>Reforms</b>")
    for option in menu:
        on = reform_on.value.get(option.name, option.on)

        def toggle(value: bool, name: str = option.name) -> None:
            reform_on.set({**reform_on.value, name: value})
        solara.Checkbox(label=option.name, value=on, on_value=toggle)
        if on:
            for param, default in option.numbers.items():
                value = numbers.value.get(option.name, {}).get(param, default)

                def change(v: float | None, name: str = option.name, p: str = param) -> None:
                    if v is not None:
                        numbers.set({**numbers.value, name: {**numbers.value.get(name, {}), p: v}})
                field = solara.InputInt if isinstance(default, int) else solara.InputFloat
                field(label=f"{option.name}.{param}", value=value, on_value=change)


@solara.component
def StaffAndDemand() -> None:
    solara.HTML(tag="div", unsafe_innerHTML="<b>Staff by level</b> (multiplier of each unit's headcount)")
    for level in STAFF_LEVELS:
        def change(v: float, lv: str = level) -> None:
            staff_share.set({**staff_share.value, lv: v})
        solara.SliderFloat(label=f"staff {level}", value=staff_share.value.get(level, 1.0), min=0.2, max=2.0,
                           step=0.05, on_value=change)
    solara.SliderFloat(label="demand (x every request rate)", value=demand, min=0.5, max=2.0, step=0.05)


@solara.component
def Assumptions() -> None:
    try:
        ranged = assumptions(scenario_name.value)
    except ScenarioError as exc:
        solara.Error(exc.one_line())
        return
    with solara.Details(summary=f"Key assumptions ({len(ranged)} with plausible ranges)"):
        for item in ranged:
            def change(v: float, key: str = item.key, integer: bool = item.integer) -> None:
                assumed.set({**assumed.value, key: round(v) if integer else v})
            step = 1.0 if item.integer else (item.high - item.low) / 50 or 0.01
            solara.SliderFloat(label=item.key, value=float(assumed.value.get(item.key, item.value)),
                               min=item.low, max=item.high, step=step, on_value=change)


@solara.component
def Controls() -> None:
    def pick(value: str) -> None:
        scenario_name.set(value)
        reform_on.set({})
        numbers.set({})
        assumed.set({})
    solara.Select(label="preset", values=list(PRESETS), value=scenario_name.value, on_value=pick)
    typed = "" if scenario_name.value in PRESETS else scenario_name.value
    solara.InputText(label="or a scenario file", value=typed,
                     on_value=lambda v: pick(v.strip()) if v.strip() else None)
    with solara.Row():
        solara.InputFloat(label="scale", value=scale)
        solara.InputInt(label="days", value=days)
        solara.InputInt(label="seed", value=seed)
    ReformControls()
    StaffAndDemand()
    Assumptions()
    solara.InputTextArea(label="more settings (KEY = VALUE lines, as --set)", value=extra, rows=3)


def _download() -> str:
    try:
        return scenario_file(current_settings())
    except ScenarioError as exc:
        return f"# {exc.one_line()}\n"


@solara.component
def Results() -> None:
    now, base = current.value, baseline.value
    if message.value:
        solara.Error(message.value)
    if now is not None:
        solara.HTML(tag="div", unsafe_innerHTML=f"<b>{html.escape(now['name'])}</b>: day {now['day']} of "
                    f"{now['days']}")
        if simulate.pending:
            solara.ProgressLinear(value=100 * now["day"] / max(now["days"], 1))
    solara.FigureMatplotlib(_figure(now, base), format="png")
    now_h = format_headline(now["headline"]) if now and "headline" in now else {}
    base_h = format_headline(base["headline"]) if base and "headline" in base else {}
    if now_h or base_h:
        labels = dict.fromkeys([*now_h, *base_h])
        cells = "".join(f"<tr><td>{html.escape(label)}</td><td>{now_h.get(label, '-')}</td>"
                        f"<td>{base_h.get(label, '-')}</td></tr>" for label in labels)
        head = "<tr><th>indicator</th><th>current</th><th>baseline</th></tr>"
        solara.HTML(tag="table", unsafe_innerHTML=head + cells,
                    style="border-collapse: collapse; min-width: 640px")


@solara.component
def Report() -> None:
    folder = Path(report_folder.value).expanduser()
    solara.InputText(label="batch folder (written by run.py compare or batch)", value=report_folder)
    report = folder / "report.html"
    if report.is_file():
        solara.FileDownload(report.read_bytes, filename="report.html", label="Download the batch's report",
                            mime_type="text/html")
        with solara.Details(summary="Show the report here"):
            solara.HTML(tag="iframe", attributes={"srcdoc": report.read_text(encoding="utf-8"),
                                                  "style": "width: 100%; height: 900px; border: 0"})
    else:
        solara.Info(f"{report} does not exist: run `run.py compare` (or `make run`) to make a batch, or "
                    "download this page's scenario and the baseline's and compare them.")


@solara.component
def Page() -> None:
    solara.Title("City governance explorer")
    with solara.Sidebar():
        Controls()
    with solara.Column():
        with solara.Row():
            solara.Button("Run", color="primary", on_click=lambda: _start())
            finished = current.value is not None and "headline" in current.value
            solara.Button("Save as baseline", disabled=not finished,
                          on_click=lambda: baseline.set(current.value))
            solara.FileDownload(_download, filename="explored.toml", label="Download scenario",
                                mime_type="application/toml")
        Results()
        Report()


def _start() -> None:
    try:
        settings = current_settings()
    except ScenarioError as exc:
        message.set(exc.one_line())
        return
    simulate(settings)
