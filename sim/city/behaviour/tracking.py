"""The matters residents follow: one row per tracked request, columns grown in bulk."""

from __future__ import annotations

import numpy as np

COLUMNS = {  # name: (dtype, fill)
    "request": (np.int64, -1),  # run-wide request index
    "resident": (np.int64, -1),
    "kind": (np.int64, -1),  # slot among the tracked kinds
    "community": (np.int64, -1),  # neighbourhood
    "channel": (np.int64, 0),
    "created": (np.float64, np.nan),  # calendar minutes
    "expected_days": (np.float64, np.nan),  # what the resident expected when bringing it
    "trips": (np.float64, 0.0),
    "entry_unit": (np.int64, -1),  # the unit that took the matter (follow-ups go there)
    "repeats": (np.int64, 0),  # follow-up contacts made
    "abandoned": (np.bool_, False),  # gave up chasing
    "whistled": (np.bool_, False),  # the community summoned a department for it (behaviour.whistle)
    "resolved": (np.float64, np.nan),  # calendar minutes
    "score": (np.float64, np.nan),  # satisfaction with the experience (when resolved)
}


class Tracked:
    """Columns of tracked requests, and the rows still open (so daily work is over open ones only)."""

    def __init__(self) -> None:
        self.n = 0
        self.col = {name: np.full(1024, fill, dtype=dtype) for name, (dtype, fill) in COLUMNS.items()}
        self.open = np.zeros(0, dtype=np.int64)
        self._closed = np.zeros(1024, dtype=bool)  # per row: resolved (closed rows leave ``open``)

    def add(self, **values: np.ndarray) -> None:
        """Append rows; columns not given take their fill value."""
        m = len(next(iter(values.values())))
        if not m:
            return
        if not values.keys() <= COLUMNS.keys():
            raise KeyError(f"not a tracked column: {sorted(values.keys() - COLUMNS.keys())}")
        need = self.n + m
        if need > len(self.col["request"]):
            size = max(need, 2 * len(self.col["request"]))
            for name, (dtype, _) in COLUMNS.items():
                grown = np.empty(size, dtype=dtype)  # rows past n are filled when added
                grown[: self.n] = self.col[name][: self.n]
                self.col[name] = grown
            closed = np.zeros(size, dtype=bool)
            closed[: self.n] = self._closed[: self.n]
            self._closed = closed
        for name, (_, fill) in COLUMNS.items():
            self.col[name][self.n:need] = values.get(name, fill)
        self.open = np.concatenate((self.open, np.arange(self.n, need)))
        self.n = need

    def __getitem__(self, name: str) -> np.ndarray:
        return self.col[name][: self.n]

    def close(self, rows: np.ndarray) -> None:
        """Rows resolved: no longer open."""
        if len(rows):  # (a mark per row kept, not a mask of all rows made each day)
            self._closed[rows] = True
            self.open = self.open[~self._closed[self.open]]
