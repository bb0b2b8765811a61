"""The city as a tree of areas, and which unit serves which area.

Levels of the tree come from the scenario's unit kinds, so every structure and reform draws its
own map on the same ground (``sim.city.geo.ground``):
  * communities: as many as the community-level unit kind with the most units (a file's
    polygons when ``[geography] file`` is given); Voronoi cells of population-weighted seeds;
  * coarser kinds (townships, districts, governance units, any kind with fewer units than
    communities) group communities, balanced by population (by population / target size under
    F9's rule, ``residents_per_unit``); removing the township layer removes its grouping, so
    communities hang from the city;
  * finer kinds (grids, any number of grid levels as J6 has) subdivide the level above them,
    each parent into children in proportion to its population; ``micro_grids`` adds a last level;
  * one-unit kinds (departments, the city's teams) serve the whole city from one office, or
    from several ``sites`` (stations of one pooled team).

Every resident and firm is a point in a leaf area; a unit instance serves the leaves of its
area. Offices stand at their area's population-weighted centre unless ``sites`` places them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

from sim.city.geo.ground import FileGround, GeneratedGround
from sim.city.geo.nearest import nearest_in_rows, nearest_seed
from sim.city.geo.partition import allocate, group, voronoi_cells, weighted_seeds
from sim.city.geo.travel import Travel, nearest

MAP_POINTS = 40_000  # assumed: reference sample per group for areas' populations and seeds


@dataclass
class AreaLayer:
    """One level of the tree: its areas' shapes, parents and totals."""

    name: str
    polygons: np.ndarray
    parent_layer: str | None
    parent: np.ndarray | None  # index of each area's parent area
    of_leaf: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    seeds: np.ndarray | None = None  # Voronoi seeds (subdivisions and generated communities)
    centre: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    residents: np.ndarray = field(default_factory=lambda: np.zeros(0))
    firms: np.ndarray = field(default_factory=lambda: np.zeros(0))
    built_up: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __len__(self) -> int:
        return len(self.polygons)

    @property
    def area_km2(self) -> np.ndarray:
        return shapely.area(self.polygons)


@dataclass
class CityMap:
    """The tree of areas, each unit kind's catchments and offices, and travel.

    Args:
        layers: area levels from the city down to the leaves, by name.
        order: layer names from the coarsest (``city``) to the leaves.
        ground: where agents are drawn from.
        travel: minutes from distances.
        kind_layer: unit kind -> the layer whose areas are its catchments (None: nearest site).
        offices: unit kind -> office points (count, 2), or a pooled team's stations.
        catchment: unit kind -> local instance serving each leaf.
        counts: unit kind -> number of units (derived where F9's rule sets it).
    """

    layers: dict[str, AreaLayer]
    order: list[str]
    ground: GeneratedGround | FileGround
    travel: Travel
    kind_layer: dict[str, str | None]
    offices: dict[str, np.ndarray]
    catchment: dict[str, np.ndarray]
    counts: dict[str, int]
    circle_minutes: float = 15.0
    service_centre: str | None = None

    @property
    def leaf(self) -> AreaLayer:
        return self.layers[self.order[-1]]

    @property
    def community(self) -> AreaLayer:
        return self.layers["community"]

    def place(self, group: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` agent points of a group and the leaf area holding each."""
        xy, community = self.ground.sample(group, n, rng)
        return xy, self.locate(xy, community)

    def locate(self, xy: np.ndarray, community: np.ndarray | None = None) -> np.ndarray:
        """Leaf area of each point (communities known from a file, or found by nearest seed)."""
        base = self.community
        if community is None or (community < 0).any():
            community = nearest_seed(base.seeds, xy) if base.seeds is not None else \
                _containing(base.polygons, xy)
        area = community
        for name in self.order[self.order.index("community") + 1:]:
            area = _child_of(self.layers[name], area, xy)
        return area.astype(np.int64)

    def office_of(self, kind: str, instance: np.ndarray, xy: np.ndarray) -> np.ndarray:
        """Office each visit goes to: the instance's own, or a pooled team's nearest station."""
        sites = self.offices[kind]
        if len(sites) == self.counts[kind]:
            return sites[instance]
        return sites[nearest(xy, sites)[0]]

    def minutes_to_office(self, kind: str, instance: np.ndarray, xy: np.ndarray, mode: str) -> np.ndarray:
        office = self.office_of(kind, instance, xy)
        return self.travel.minutes(np.hypot(*(xy - office).T), mode)

    def summary(self) -> dict[str, Any]:
        """Areas per level with population, for tables and the report."""
        return {name: {"areas": len(layer), "parent": layer.parent_layer,
                       "residents_mean": float(layer.residents.mean()),
                       "km2_mean": float(layer.area_km2.mean())}
                for name, layer in self.layers.items()}


def _containing(polygons: np.ndarray, xy: np.ndarray) -> np.ndarray:
    out = np.full(len(xy), -1, dtype=np.int64)
    for i, poly in enumerate(polygons):
        hit = (out < 0) & shapely.contains_xy(poly, xy[:, 0], xy[:, 1])
        out[hit] = i
    if (out < 0).any():  # on an edge or a hair outside: nearest centroid
        centres = shapely.get_coordinates(shapely.centroid(polygons))
        out[out < 0] = nearest(xy[out < 0], centres)[0]
    return out


def _child_of(layer: AreaLayer, parent_area: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Nearest seed among the parent's children: exact, as children are the parent's Voronoi cells.

    The children of each parent in a padded table, searched per point in a compiled loop
    (``nearest_in_rows``), the first nearest kept as an argmin over the slots would: placing
    576,000 agents spent 0.4 s on distances to all slots at once in NumPy, 0.08 s on one NumPy
    pass per slot."""
    n_parent = int(layer.parent.max()) + 1
    counts = np.bincount(layer.parent, minlength=n_parent)
    width = int(counts.max())
    table = np.full((n_parent, width), -1, dtype=np.int64)
    order = np.argsort(layer.parent, kind="stable")
    slot = np.arange(len(order)) - np.repeat(np.cumsum(counts) - counts, counts)
    table[layer.parent[order], slot] = order
    return nearest_in_rows(layer.seeds, table, parent_area, xy)


# -- building ---------------------------------------------------------------------------------

def build_city_map(scenario: dict[str, Any], rng: np.random.Generator,
                   ground: GeneratedGround | FileGround | None = None) -> CityMap:
    """The map of a validated scenario whose ``[geography] model = "map"``; same seed, same map."""
    geo = scenario["geography"]
    ground_rng, seed_rng = rng.spawn(2)
    if ground is None:
        ground = GeneratedGround.from_config(geo, ground_rng)
    units = scenario["units"]
    pop = scenario["population"]
    res_xy, res_comm = ground.sample("resident", MAP_POINTS, ground_rng)
    firm_xy, firm_comm = ground.sample("firm", MAP_POINTS // 4, ground_rng)

    n_comm = _community_count(units, ground)
    layers: dict[str, AreaLayer] = {}
    if ground.communities is None:
        seeds = weighted_seeds(res_xy, np.ones(len(res_xy)), n_comm, ground.boundary, seed_rng)
        community = AreaLayer("community", voronoi_cells(seeds, ground.boundary), "city", None, seeds=seeds)
        res_comm, firm_comm = nearest_seed(seeds, res_xy), nearest_seed(seeds, firm_xy)
    else:
        community = AreaLayer("community", ground.communities, "city", None)
    layers["community"] = community
    chain = ["community"]
    res_area, firm_area = res_comm, firm_comm
    for count, name in _subdivision_counts(units, n_comm, geo):
        parent = layers[chain[-1]]
        layer = _subdivide(name, parent, chain[-1], count, res_xy, res_area, seed_rng)
        res_area = _child_of(layer, res_area, res_xy)
        firm_area = _child_of(layer, firm_area, firm_xy)
        layers[name] = layer
        chain.append(name)
    leaf_name = chain[-1]
    n_leaf = len(layers[leaf_name])
    # totals per leaf from the reference sample (file communities: their stated numbers)
    leaf_res = np.bincount(res_area, minlength=n_leaf) / len(res_area) * pop["residents"]
    leaf_firm = np.bincount(firm_area, minlength=n_leaf) / max(len(firm_area), 1) * pop["firms"]
    if isinstance(ground, FileGround):  # the file's numbers per community, exactly
        comm_of_leaf = _community_of_leaf(layers, chain, n_leaf)
        for values, stated in ((leaf_res, ground.residents), (leaf_firm, ground.firms)):
            have = np.bincount(comm_of_leaf, weights=values, minlength=n_comm)
            values *= np.where(have > 0, stated / np.maximum(have, 1e-12), 0.0)[comm_of_leaf]
    for name in reversed(chain):  # of_leaf: each layer's area holding each leaf
        layer = layers[name]
        if name == leaf_name:
            layer.of_leaf = np.arange(n_leaf)
        else:
            child = layers[chain[chain.index(name) + 1]]
            layer.of_leaf = child.parent[child.of_leaf]
    _fill_totals(layers["community"], leaf_res, leaf_firm, ground, res_xy, res_comm)
    for name in chain[1:]:
        _fill_totals(layers[name], leaf_res, leaf_firm, ground, res_xy, None, res_area)
    layers["city"] = AreaLayer("city", np.array([ground.boundary], dtype=object), None, None,
                               of_leaf=np.zeros(n_leaf, dtype=np.int64))
    _fill_totals(layers["city"], leaf_res, leaf_firm, ground, res_xy, np.zeros(len(res_xy), dtype=np.int64))

    counts = {name: unit["count"] for name, unit in units.items()}
    kind_layer: dict[str, str | None] = {}
    groupings: dict[tuple[int, tuple[float, ...]], str] = {}
    for name, unit in units.items():
        k = unit["count"]
        rule = tuple(unit["residents_per_unit"] or ())
        if unit["sites"]:
            kind_layer[name] = None
        elif k == 1 and not rule:
            kind_layer[name] = "city"
        elif rule or k < n_comm:
            weight = _grouping_weight(layers["community"], rule, geo["built_up_threshold"])
            key = (k, rule)
            if key not in groupings:
                groupings[key] = _grouping(layers, unit["level"], k, weight, rule)
            kind_layer[name] = groupings[key]
        else:
            kind_layer[name] = next((n for n in chain if len(layers[n]) == k), None)
    order = ["city", *sorted({v for v in kind_layer.values() if v and v.startswith("group")}), *chain]
    offices, catchment = _offices(units, layers, kind_layer, counts, leaf_name)
    return CityMap(layers, order, ground, Travel.from_config(geo), kind_layer, offices, catchment, counts,
                   geo["circle_minutes"], geo["service_centre"] or None)


def _community_of_leaf(layers: dict[str, AreaLayer], chain: list[str], n_leaf: int) -> np.ndarray:
    area = np.arange(n_leaf)
    for name in reversed(chain[1:]):
        area = layers[name].parent[area]
    return area


def _community_count(units: dict[str, Any], ground: GeneratedGround | FileGround) -> int:
    counts = [u["count"] for u in units.values() if u["level"] == "community" and not u["sites"]]
    if ground.communities is not None:
        return len(ground.communities)
    return max(counts) if counts else 1


def _subdivision_counts(units: dict[str, Any], n_comm: int, geo: dict[str, Any]) -> list[tuple[int, str]]:
    """Finer levels: distinct counts above the communities' (grid levels), then micro-grids."""
    finer = sorted({u["count"] for u in units.values()
                    if u["count"] > n_comm and not u["sites"] and not u["residents_per_unit"]})
    names = ["grid" if i == len(finer) - 1 else f"grid_level_{i + 1}" for i in range(len(finer))]
    out = list(zip(finer, names, strict=True))
    if geo["micro_grids"] > (finer[-1] if finer else n_comm):
        out.append((geo["micro_grids"], "micro_grid"))
    return out


def _subdivide(name: str, parent: AreaLayer, parent_name: str, count: int, xy: np.ndarray,
               area_of_point: np.ndarray, rng: np.random.Generator) -> AreaLayer:
    """Each parent area into children in proportion to its residents (at least one each)."""
    weight = np.bincount(area_of_point, minlength=len(parent)).astype(float)
    per_parent = allocate(count, weight)
    polygons, seeds, parents = [], [], []
    order = np.argsort(area_of_point, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(area_of_point, minlength=len(parent)))])
    for p in range(len(parent)):
        pts = xy[order[bounds[p]:bounds[p + 1]]]
        s = weighted_seeds(pts, np.ones(len(pts)), int(per_parent[p]), parent.polygons[p], rng)
        polygons.append(voronoi_cells(s, parent.polygons[p]))
        seeds.append(s)
        parents.append(np.full(len(s), p))
    return AreaLayer(name, np.concatenate(polygons), parent_name, np.concatenate(parents),
                     seeds=np.vstack(seeds))


def _grouping_weight(community: AreaLayer, rule: tuple[float, ...], threshold: float) -> np.ndarray:
    """Population (plain balance), or population / target size by built-up share (F9's rule)."""
    if not rule:
        return community.residents
    target = np.where(community.built_up >= threshold, rule[0], rule[1])
    return community.residents / target


def _grouping(layers: dict[str, AreaLayer], level: str, k: int, weight: np.ndarray,
              rule: tuple[float, ...]) -> str:
    community = layers["community"]
    label = group(community.centre, weight, k)
    name = f"group_{level}_{k}" + ("_sized" if rule else "")
    polygons = np.array([shapely.union_all(community.polygons[label == g]) for g in range(k)], dtype=object)
    layer = AreaLayer(name, polygons, "city", np.zeros(k, dtype=np.int64), of_leaf=label[community.of_leaf])
    if community.parent is None:  # a community's parent: the first grouping (townships, districts)
        community.parent, community.parent_layer = label, name
    for total, values in (("residents", community.residents), ("firms", community.firms)):
        setattr(layer, total, np.bincount(label, weights=values, minlength=k))
    area = shapely.area(community.polygons)
    layer.built_up = np.bincount(label, weights=community.built_up * area, minlength=k) / np.maximum(
        np.bincount(label, weights=area, minlength=k), 1e-12)
    layer.centre = np.column_stack([
        np.bincount(label, weights=community.residents * community.centre[:, d], minlength=k)
        / np.maximum(layer.residents, 1e-12) for d in (0, 1)])
    layers[name] = layer
    return name


def _fill_totals(layer: AreaLayer, leaf_res: np.ndarray, leaf_firm: np.ndarray, ground: Any,
                 xy: np.ndarray, area_of_point: np.ndarray | None,
                 leaf_of_point: np.ndarray | None = None) -> None:
    n = len(layer)
    layer.residents = np.bincount(layer.of_leaf, weights=leaf_res, minlength=n)
    layer.firms = np.bincount(layer.of_leaf, weights=leaf_firm, minlength=n)
    layer.built_up = ground.built_up_fraction(layer.polygons)
    if area_of_point is None:
        area_of_point = layer.of_leaf[leaf_of_point]
    mass = np.bincount(area_of_point, minlength=n).astype(float)
    centre = np.column_stack([np.bincount(area_of_point, weights=xy[:, d], minlength=n) for d in (0, 1)])
    fallback = shapely.get_coordinates(shapely.point_on_surface(layer.polygons))
    layer.centre = np.where(mass[:, None] > 0, centre / np.maximum(mass, 1)[:, None], fallback)
    outside = ~shapely.contains_xy(layer.polygons, layer.centre[:, 0], layer.centre[:, 1])
    layer.centre[outside] = fallback[outside]  # a hollow or bent area: a point inside it


def _offices(units: dict[str, Any], layers: dict[str, AreaLayer], kind_layer: dict[str, str | None],
             counts: dict[str, int], leaf_name: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    leaf = layers[leaf_name]
    offices: dict[str, np.ndarray] = {}
    catchment: dict[str, np.ndarray] = {}
    for name in units:  # own areas first, so sites_at can refer to any of them
        layer = kind_layer[name]
        if layer is not None:
            offices[name] = layers[layer].centre
            catchment[name] = layers[layer].of_leaf
    for name, unit in units.items():
        if unit["sites"]:
            offices[name] = np.asarray(unit["sites"], dtype=float)
            owner = nearest(leaf.centre, offices[name])[0]
            catchment[name] = owner if counts[name] > 1 else np.zeros(len(leaf), dtype=np.int64)
        if unit["sites_at"]:
            offices[name] = offices[unit["sites_at"]]
    return offices, catchment
