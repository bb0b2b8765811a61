"""A columnar log that grows by doubling: the run's requests and legs, batch after batch.

Why: a run adds two batches a day (hundreds of batches a year). Kept as a list of batches,
every reader of the whole log (the tables after the run, an explorer drawing as it goes)
concatenated some 750 small arrays per column, fifteen columns: a tenth of a second of a
full-city year, and twice the log's memory at that moment. Here each batch is copied once,
into columns with room to spare, and the whole log is a view.
"""

from __future__ import annotations

import numpy as np


class GrowingColumns:
    """Named 1-D columns appended to together.

    Args:
        names: the columns, in order.
        room: rows to set aside at first (more are added by doubling).
    """

    def __init__(self, names: tuple[str, ...], room: int = 1024) -> None:
        self.names = names
        self._room = max(int(room), 1)
        self._columns: dict[str, np.ndarray] = {}
        self.size = 0

    def append(self, *values: np.ndarray) -> None:
        """Add a batch: one array per column, all of one length. A column takes the dtype of its
        first batch, promoted as ``np.concatenate`` would if a later batch needs a wider one."""
        n = len(values[0])
        end = self.size + n
        for name, value in zip(self.names, values, strict=True):
            value = np.asarray(value)
            column = self._columns.get(name)
            if column is None:
                column = np.empty(max(self._room, end), dtype=value.dtype)
            size = max(end, 2 * len(column)) if end > len(column) else len(column)
            dtype = np.result_type(column.dtype, value.dtype)
            if size != len(column) or dtype != column.dtype:
                column = self._moved(column, size, dtype)
            column[self.size: end] = value
            self._columns[name] = column
        self.size = end

    def reserve(self, rows: int) -> None:
        """Room for ``rows`` in all (a hint: a run that knows its length grows no column by
        doubling; room never written costs address space, not memory)."""
        self._room = max(self._room, int(rows))
        for name, column in self._columns.items():
            if len(column) < rows:
                self._columns[name] = self._moved(column, int(rows), column.dtype)

    def _moved(self, column: np.ndarray, size: int, dtype: np.dtype) -> np.ndarray:
        """The column's rows so far in a new array of ``size`` rows and ``dtype``."""
        out = np.empty(size, dtype=dtype)
        out[: self.size] = column[: self.size]
        return out

    def column(self, name: str) -> np.ndarray:
        """The column's rows so far: a read-only view (valid as it is: later batches go after it)."""
        column = self._columns.get(name)
        if column is None:
            return np.zeros(0)
        view = column[: self.size]
        view.flags.writeable = False
        return view
