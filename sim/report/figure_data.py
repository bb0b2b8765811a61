"""What the figures and the report read: a saved batch folder, never the live model."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import ScenarioError
from sim.scenario.schema import CATEGORIES, LEVELS


@dataclass
class BatchData:
    """A batch folder's results, per scenario in the batch's order."""

    root: Path
    scenarios: list[str]
    runs: pd.DataFrame  # ok runs, one row per run
    kpis: dict[str, list[dict[str, Any]]]  # scenario -> full KPI dicts of its runs (point 0 first)
    metadata: dict[str, Any]
    summary: pd.DataFrame
    attribution: pd.DataFrame | None
    sensitivity: pd.DataFrame | None
    validation: pd.DataFrame | None
    skipped: list[str] = field(default_factory=list)  # what could not be read, one line each
    maps: dict[str, dict[str, Any]] = field(default_factory=dict)  # scenario -> map shapes (on a map)
    robustness: pd.DataFrame | None = None  # robust.csv of a `robust` study in (or below) the folder

    @classmethod
    def load(cls, folder: str | Path) -> BatchData:
        """Read a batch folder. A damaged required file (runs.parquet) ends in one line naming it;
        a damaged run file or optional file is skipped and listed in ``skipped``."""
        root = Path(folder)
        if not root.is_dir():
            raise ScenarioError(str(root), "", "no such batch folder")
        runs = _read_runs(root / "runs.parquet")
        skipped: list[str] = []
        kpis: dict[str, list[dict[str, Any]]] = {}
        maps: dict[str, dict[str, Any]] = {}
        keep = []
        for index, (run_id, scenario) in enumerate(zip(runs["run_id"], runs["scenario"], strict=True)):
            record, problem = _read_run(root / "runs" / f"{run_id}.json")
            if problem:
                skipped.append(f"skipped runs/{run_id}.json: {problem}")
                continue
            kpis.setdefault(scenario, []).append(record["kpis"])
            if isinstance(record.get("map"), dict):
                maps.setdefault(scenario, record["map"])
            keep.append(index)
        runs = runs.iloc[keep].reset_index(drop=True)
        if runs.empty:
            raise ScenarioError(str(root / "runs.parquet"), "status", "no run finished with readable "
                                "results (failed or damaged runs only); nothing to plot"
                                + (f"; {skipped[0]}" if skipped else ""))
        scenarios = list(kpis)
        metadata = _read_optional(root / "metadata.json", lambda p: json.loads(p.read_text()), {}, skipped)
        if not isinstance(metadata, dict):
            skipped.append("skipped metadata.json: not a JSON object")
            metadata = {}
        summary = _read_optional(root / "summary.csv", pd.read_csv, pd.DataFrame(), skipped)
        return cls(root, scenarios, runs, kpis, metadata, summary,
                   _find_csv(root, {"reform", "metric", "shapley"}, skipped),
                   _find_csv(root, {"output", "parameter", "first_order", "total_order"}, skipped),
                   _numeric(_find_csv(root, {"fact", "check", "simulated_mean"}, skipped),
                            ("simulated_mean", "ci95_low", "ci95_high"), skipped), skipped, maps,
                   _find_csv(root, {"conclusion", "holds_share", "ci95_low", "fails_when"}, skipped))

    def main_runs(self, scenario: str) -> list[dict[str, Any]]:
        """KPI dicts of the scenario's first sweep point (its replications)."""
        points = self.runs[self.runs["scenario"] == scenario]["point"].to_numpy()
        return [k for k, p in zip(self.kpis[scenario], points, strict=True) if p == points.min()]

    def values(self, scenario: str, *path: str) -> np.ndarray:
        """One KPI over the scenario's replications (NaN where missing)."""
        out = []
        for kpis in self.main_runs(scenario):
            node: Any = kpis
            for key in path:
                node = node.get(key) if isinstance(node, dict) else None
            out.append(np.nan if node is None else float(node))
        return np.array(out)

    def categories(self) -> list[str]:
        present = {c for s in self.scenarios for k in self.main_runs(s) for c in k["resolution_hours"]}
        return [c for c in CATEGORIES if c in present]

    def levels(self) -> list[str]:
        present = {lv for s in self.scenarios for k in self.main_runs(s)
                   for lv, share in k["share_resolved_by_level"].items() if share > 0}
        return [lv for lv in LEVELS if lv in present]


def overall_mean_hours(kpis: dict[str, Any]) -> float:
    """Mean resolution hours over all resolved requests (categories weighted by their counts)."""
    cats = [c for c in kpis["resolution_hours"].values() if c["n"]]
    return sum(c["mean"] * c["n"] for c in cats) / sum(c["n"] for c in cats) if cats else np.nan


def mean_sla(kpis: dict[str, Any]) -> float:
    values = [s["attainment"] for s in kpis["sla_attainment"].values() if s["attainment"] is not None]
    return float(np.mean(values)) if values else np.nan


RUN_COLUMNS = ("run_id", "scenario", "point", "status", "wall_seconds")
READ_ERRORS = (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError)


def _read_runs(path: Path) -> pd.DataFrame:
    """The ok runs of ``runs.parquet``; a missing or damaged file ends in one line naming it."""
    if not path.is_file():
        raise ScenarioError(str(path.parent), "", "is not a batch folder (no runs.parquet); run `compare` "
                            "or `batch` with --out first")
    try:
        runs = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises its own types for truncated or foreign files
        raise ScenarioError(str(path), "", f"cannot be read ({type(exc).__name__}); `batch ... --resume` "
                            "with the same settings rebuilds it from runs/") from None
    missing = [c for c in RUN_COLUMNS if c not in runs.columns]
    if missing:
        raise ScenarioError(str(path), missing[0], "column missing; this is not a batch table "
                            f"(needs {', '.join(RUN_COLUMNS)})")
    return runs[runs["status"] == "ok"].reset_index(drop=True)


def _read_run(path: Path) -> tuple[dict[str, Any], str]:
    """A run file and '' or, when it cannot be used, {} and why."""
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        return {}, "missing"
    except READ_ERRORS as exc:
        return {}, f"unreadable ({type(exc).__name__})"
    kpis = record.get("kpis") if isinstance(record, dict) else None
    if not isinstance(kpis, dict) or not all(
            isinstance(kpis.get(k), dict) for k in ("resolution_hours", "share_resolved_by_level")):
        return {}, "no KPI table in it"
    return record, ""


def _numeric(frame: pd.DataFrame | None, columns: tuple[str, ...], skipped: list[str]) -> pd.DataFrame | None:
    """The frame with these columns as numbers, or None (and a note) when one holds text."""
    if frame is None:
        return None
    try:
        for column in columns:
            frame[column] = pd.to_numeric(frame[column])
    except (KeyError, ValueError, TypeError):
        skipped.append(f"skipped {Path(frame.attrs['path']).name}: column {column!r} is not numeric")
        return None
    return frame


def _read_optional(path: Path, reader: Any, default: Any, skipped: list[str]) -> Any:
    if not path.is_file():
        return default
    try:
        return reader(path)
    except READ_ERRORS as exc:
        skipped.append(f"skipped {path.name}: unreadable ({type(exc).__name__})")
        return default


def _find_csv(root: Path, columns: set[str], skipped: list[str] | None = None) -> pd.DataFrame | None:
    """The first CSV in the folder or one level below whose header has these columns."""
    for path in sorted([*root.glob("*.csv"), *root.glob("*/*.csv")]):
        try:
            header = set(pd.read_csv(path, nrows=0).columns)
        except READ_ERRORS:
            continue
        if columns <= header:
            try:
                frame = pd.read_csv(path)
            except READ_ERRORS as exc:
                if skipped is not None:
                    skipped.append(f"skipped {path.relative_to(root)}: unreadable ({type(exc).__name__})")
                continue
            frame.attrs["path"] = str(path)
            return frame
    return None
