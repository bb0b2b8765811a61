"""How areas are cut and grouped: Voronoi subdivision and balanced recursive bisection.

Two operations build every level of the map's tree:
  * ``subdivide`` cuts each parent area into children: seeds placed by population (weighted
    k-means on the map's sample points inside the parent), children = the seeds' Voronoi cells
    clipped to the parent, so children nest exactly and a point's child is its nearest seed
    among the parent's seeds;
  * ``group`` joins areas into parents by recursive coordinate bisection on their centres,
    splitting the weight at each cut in proportion to the parents on either side, so parents are
    compact and balanced in weight (population, or population / target size for F9's rule).
"""

from __future__ import annotations

import numpy as np
import shapely

from sim.city.geo.nearest import nearest_seed

LLOYD_ITERATIONS = 6  # assumed: enough for compact cells; more changes shapes little


def allocate(total: int, weights: np.ndarray, minimum: int = 1) -> np.ndarray:
    """Split ``total`` whole units over ``weights`` (largest remainder), at least ``minimum`` each."""
    n = len(weights)
    if total < minimum * n:
        raise ValueError(f"{total} cannot give {n} areas {minimum} each")
    w = np.asarray(weights, dtype=float)
    w = w / w.sum() if w.sum() > 0 else np.full(n, 1.0 / n)
    spare = total - minimum * n
    raw = w * spare
    out = np.floor(raw).astype(np.int64)
    left = spare - int(out.sum())
    out[np.argsort(-(raw - out), kind="stable")[:left]] += 1
    return out + minimum


def weighted_seeds(points: np.ndarray, weight: np.ndarray, n: int, polygon: shapely.Geometry,
                   rng: np.random.Generator) -> np.ndarray:
    """``n`` seed points in ``polygon`` spread by weight (weighted k-means from a weighted draw)."""
    if len(points) < n or weight.sum() <= 0:
        extra = uniform_in(polygon, n, rng)
        points = np.vstack([points, extra]) if len(points) else extra
        weight = np.concatenate([weight, np.full(n, max(weight.mean() if len(weight) else 1.0, 1e-9))])
    pick = rng.choice(len(points), n, replace=False, p=weight / weight.sum())
    seeds = points[pick].copy()
    for _ in range(LLOYD_ITERATIONS):
        if n <= 32:  # few seeds (a parent's children): direct distances beat building a tree
            label = ((points[:, None, :] - seeds[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
        else:
            label = nearest_seed(seeds, points)
        mass = np.bincount(label, weights=weight, minlength=n)
        moved = np.column_stack([np.bincount(label, weights=weight * points[:, d], minlength=n)
                                 for d in (0, 1)])
        keep = mass > 0
        seeds[keep] = moved[keep] / mass[keep, None]
    # a centroid of a bent or hollow area's points may fall outside it, and a seed outside its
    # container has an empty Voronoi cell (an area without ground): such a seed moves to the
    # nearest of the points it stood for, which lie inside (the first sampled geography that
    # did this, in a robust study, crashed its run)
    seeds = _distinct(seeds, rng)
    outside = ~shapely.contains_xy(polygon, seeds[:, 0], seeds[:, 1])
    if outside.any():
        inside = shapely.contains_xy(polygon, points[:, 0], points[:, 1])
        for i in np.flatnonzero(outside):
            others = np.delete(seeds, i, axis=0)
            for j in np.argsort(((points - seeds[i]) ** 2).sum(axis=1)):
                # the nearest point inside on which no other seed sits
                if inside[j] and (len(others) == 0 or ((others - points[j]) ** 2).sum(axis=1).min() > 1e-18):
                    seeds[i] = points[j]
                    break
    return seeds


def _distinct(seeds: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Seeds nudged apart where two coincide (Voronoi needs distinct points)."""
    _, first = np.unique(np.round(seeds, 9), axis=0, return_index=True)
    if len(first) < len(seeds):
        dup = np.setdiff1d(np.arange(len(seeds)), first)
        seeds[dup] += rng.normal(0.0, 1e-3, size=(len(dup), 2))
    return seeds


def uniform_in(polygon: shapely.Geometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points uniform in a polygon (rejection from its bounding box)."""
    x0, y0, x1, y1 = polygon.bounds
    share = max(polygon.area / max((x1 - x0) * (y1 - y0), 1e-12), 1e-3)
    out: list[np.ndarray] = []
    have = 0
    while have < n:
        m = int((n - have) / share * 1.2) + 8
        p = np.column_stack([x0 + (x1 - x0) * rng.random(m), y0 + (y1 - y0) * rng.random(m)])
        p = p[shapely.contains_xy(polygon, p[:, 0], p[:, 1])]
        out.append(p)
        have += len(p)
    return np.vstack(out)[:n]


def voronoi_cells(seeds: np.ndarray, container: shapely.Geometry) -> np.ndarray:
    """The seeds' Voronoi cells clipped to ``container``, in seed order."""
    if len(seeds) == 1:
        return np.array([container], dtype=object)
    cells = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=container, ordered=True)
    return shapely.intersection(np.array(cells.geoms, dtype=object), container)


def group(centre: np.ndarray, weight: np.ndarray, k: int) -> np.ndarray:
    """Label areas 0..k-1 by recursive coordinate bisection, weight split in proportion to k."""
    label = np.zeros(len(centre), dtype=np.int64)
    _bisect(np.arange(len(centre)), centre, np.asarray(weight, dtype=float), k, 0, label)
    return label


def _bisect(items: np.ndarray, centre: np.ndarray, weight: np.ndarray, k: int, first: int,
            label: np.ndarray) -> None:
    if k == 1 or len(items) <= 1:
        label[items] = first
        return
    k_low = k // 2
    spread = centre[items].max(axis=0) - centre[items].min(axis=0)
    axis = int(np.argmax(spread))
    order = items[np.argsort(centre[items, axis], kind="stable")]
    cum = np.cumsum(weight[order])
    cut = int(np.searchsorted(cum, cum[-1] * k_low / k)) + 1
    cut = min(max(cut, k_low), len(order) - (k - k_low))  # each side keeps an area per parent
    _bisect(order[:cut], centre, weight, k_low, first, label)
    _bisect(order[cut:], centre, weight, k - k_low, first + k_low, label)
