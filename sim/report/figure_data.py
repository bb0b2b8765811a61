"""What the figures and the report read: a saved batch folder, never the live model."""

from __future__ import annotations

import json
from dataclasses import dataclass
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

    @classmethod
    def load(cls, folder: str | Path) -> BatchData:
        root = Path(folder)
        if not (root / "runs.parquet").is_file():
            raise ScenarioError(str(root), "", "is not a batch folder (no runs.parquet); run `compare` "
                                "or `batch` with --out first")
        runs = pd.read_parquet(root / "runs.parquet")
        runs = runs[runs["status"] == "ok"].reset_index(drop=True)
        scenarios = list(dict.fromkeys(runs["scenario"]))
        kpis: dict[str, list[dict[str, Any]]] = {s: [] for s in scenarios}
        for run_id, scenario in zip(runs["run_id"], runs["scenario"], strict=True):
            kpis[scenario].append(json.loads((root / "runs" / f"{run_id}.json").read_text())["kpis"])
        meta_path = root / "metadata.json"
        summary_path = root / "summary.csv"
        return cls(root, scenarios, runs, kpis,
                   json.loads(meta_path.read_text()) if meta_path.is_file() else {},
                   pd.read_csv(summary_path) if summary_path.is_file() else pd.DataFrame(),
                   _find_csv(root, {"reform", "metric", "shapley"}),
                   _find_csv(root, {"output", "parameter", "first_order", "total_order"}),
                   _find_csv(root, {"fact", "check", "simulated_mean"}))

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


def _find_csv(root: Path, columns: set[str]) -> pd.DataFrame | None:
    """The first CSV in the folder or one level below whose header has these columns."""
    for path in sorted([*root.glob("*.csv"), *root.glob("*/*.csv")]):
        try:
            header = set(pd.read_csv(path, nrows=0).columns)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
            continue
        if columns <= header:
            frame = pd.read_csv(path)
            frame.attrs["path"] = str(path)
            return frame
    return None
