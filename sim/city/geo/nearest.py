"""Nearest seed of each point: which Voronoi cell (community) a point falls in.

Why not SciPy's KD-tree: importing ``scipy.spatial`` (with the sparse, linear-algebra and
special-function modules it pulls in) cost 0.13 s of every process, more than the queries
themselves. Seeds are bucketed in a square grid of about one seed per cell; a point's cells are
searched in rings around its own until no unsearched cell can hold a nearer seed. Exact: the
answer is the seed at the least Euclidean distance (ties, at exactly equal distances, go to the
lower seed index).
"""

from __future__ import annotations

import math

import numpy as np

from sim.engine.jit import numba


def nearest_seed(seeds: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Index of the nearest of ``seeds`` (n, 2) for each of ``points`` (m, 2)."""
    seeds = np.ascontiguousarray(seeds, dtype=np.float64)
    points = np.ascontiguousarray(points, dtype=np.float64)
    if len(seeds) == 0:
        raise ValueError("nearest_seed: no seeds")
    out = np.zeros(len(points), dtype=np.int64)
    if len(points) == 0 or len(seeds) == 1:
        return out
    lo = np.minimum(seeds.min(axis=0), points.min(axis=0))  # the grid covers seeds and points
    extent = np.maximum(np.maximum(seeds.max(axis=0), points.max(axis=0)) - lo, 1e-9)
    cell = max(math.sqrt(float(extent[0] * extent[1]) / len(seeds)), float(extent.max()) / 4096, 1e-9)
    nx, ny = (int(e // cell) + 1 for e in extent)
    seed_cell = _cells(seeds, lo, cell, nx, ny)
    order = np.argsort(seed_cell, kind="stable")  # seeds by cell, in index order within one
    start = np.zeros(nx * ny + 1, dtype=np.int64)
    np.cumsum(np.bincount(seed_cell, minlength=nx * ny), out=start[1:])
    _query(points, seeds, order, start, float(lo[0]), float(lo[1]), cell, nx, ny, out)
    return out


def _cells(xy: np.ndarray, lo: np.ndarray, cell: float, nx: int, ny: int) -> np.ndarray:
    ix = np.minimum(((xy[:, 0] - lo[0]) // cell).astype(np.int64), nx - 1)
    iy = np.minimum(((xy[:, 1] - lo[1]) // cell).astype(np.int64), ny - 1)
    return iy * nx + ix


@numba.njit(cache=True, _nrt=False)
def _query(points, seeds, order, start, x0, y0, cell, nx, ny, out):
    for p in range(len(points)):
        px, py = points[p, 0], points[p, 1]
        cx = min(int((px - x0) // cell), nx - 1)
        cy = min(int((py - y0) // cell), ny - 1)
        best, best_i = np.inf, -1
        ring = 0
        while True:
            for gy in range(max(cy - ring, 0), min(cy + ring, ny - 1) + 1):
                on_edge = gy == cy - ring or gy == cy + ring
                step = 1 if on_edge else 2 * ring  # inside rows: only the ring's two ends
                gx = cx - ring
                while gx <= cx + ring:
                    if 0 <= gx < nx:
                        c = gy * nx + gx
                        for k in range(start[c], start[c + 1]):
                            s = order[k]
                            dx = seeds[s, 0] - px
                            dy = seeds[s, 1] - py
                            d2 = dx * dx + dy * dy
                            if d2 < best or (d2 == best and s < best_i):
                                best, best_i = d2, s
                    gx += step
            # every cell beyond this ring lies at least ring * cell away from the point (less a
            # hair for rounding at cell edges; strictly nearer, so a tie there is searched too)
            reach = ring * cell * (1.0 - 1e-9)
            if best_i >= 0 and best < reach * reach:
                break
            if ring > nx and ring > ny:
                break
            ring += 1
        out[p] = best_i


def nearest_in_rows(seeds: np.ndarray, table: np.ndarray, row: np.ndarray, points: np.ndarray) -> np.ndarray:
    """For each point, the nearest seed among those listed in its row of ``table`` (seed
    indices, -1 for an empty slot; every row lists at least one), the first of equally near."""
    out = np.zeros(len(points), dtype=np.int64)
    seeds, points = (np.ascontiguousarray(a, dtype=np.float64) for a in (seeds, points))
    table, row = (np.ascontiguousarray(a, dtype=np.int64) for a in (table, row))
    _nearest_in_rows(seeds, table, row, points, out)
    return out


@numba.njit(cache=True, _nrt=False)
def _nearest_in_rows(seeds, table, row, points, out):
    for p in range(len(points)):
        best, best_s = np.inf, table[row[p], 0]
        for j in range(table.shape[1]):
            s = table[row[p], j]
            if s < 0:
                continue
            dx = seeds[s, 0] - points[p, 0]  # (as the NumPy passes did, to the last bit)
            dy = seeds[s, 1] - points[p, 1]
            d2 = dx * dx + dy * dy
            if d2 < best:
                best, best_s = d2, s
        out[p] = best_s


def warm_up() -> None:
    """Load (or, the first time on a machine, compile) the kernels with a tiny example."""
    seeds = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]])
    points = np.array([[0.1, 0.2], [1.9, 0.1]])
    nearest_seed(seeds, points)
    nearest_in_rows(seeds, np.array([[0, 1, -1]]), np.zeros(2, dtype=np.int64), points)
