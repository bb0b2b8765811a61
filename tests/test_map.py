"""The city on a map (issue 12): nesting, reproducibility, travel, placement, files, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import shapely

from sim.city.geo import city_map_for
from sim.city.geo.travel import Travel
from sim.city.model import GovernanceModel
from sim.experiments.placement import brute_force, max_cover, p_median
from sim.outputs.kpis import build_tables, compute_kpis
from sim.scenario.loading import load_scenario

ROOT = Path(__file__).resolve().parents[1]
TOWN = ROOT / "scenarios" / "examples" / "town-map.toml"
ON_MAP = {"geography.model": "map"}


def _map(name: str, **extra: object):
    return city_map_for(load_scenario(ROOT / "scenarios" / f"{name}.toml", {**ON_MAP, **extra}))


@pytest.fixture(scope="module")
def township_map():
    return _map("township")


def test_every_leaf_has_one_parent_per_level_and_totals_sum_up(township_map) -> None:
    city = township_map
    leaf = city.leaf
    assert city.order[-1] == "grid" and len(leaf) == 484
    for name in city.order:
        layer = city.layers[name]
        assert layer.of_leaf.shape == (len(leaf),)
        assert set(np.unique(layer.of_leaf)) == set(range(len(layer)))  # every area holds a leaf
        # residents and firms sum up the tree
        assert layer.residents.sum() == pytest.approx(485_000, rel=1e-9)
        assert layer.firms.sum() == pytest.approx(90_000, rel=1e-9)
        assert np.allclose(np.bincount(layer.of_leaf, weights=leaf.residents, minlength=len(layer)),
                           layer.residents)
    grid, community = city.layers["grid"], city.layers["community"]
    # a grid's parent is the community holding it, and its polygon lies inside that community's
    assert np.array_equal(community.of_leaf, grid.parent)
    inside = shapely.area(shapely.difference(grid.polygons, community.polygons[grid.parent]))
    assert inside.max() < 1e-9
    assert shapely.area(grid.polygons).sum() == pytest.approx(184.0, rel=1e-6)  # F2, no gaps
    township = city.layers[city.kind_layer["township_office"]]
    assert len(township) == 12 and township.residents.min() > 0.5 * township.residents.mean()


def test_agents_lie_inside_their_leaf_area(township_map) -> None:
    rng = np.random.default_rng(3)
    for group in ("resident", "firm"):
        xy, leaf = township_map.place(group, 5_000, rng)
        polygons = township_map.leaf.polygons[leaf]
        inside = shapely.contains_xy(polygons, xy[:, 0], xy[:, 1]) | (
            shapely.distance(polygons, shapely.points(xy)) < 1e-9)
        assert inside.all()


def test_removing_the_township_layer_reparents_communities(township_map) -> None:
    flat = _map("longgang-2021")
    assert township_map.layers["community"].parent_layer.startswith("group_township")
    assert flat.layers["community"].parent_layer.startswith("group_district")  # governance units
    assert not any(name.startswith("group_township") for name in flat.layers)
    assert len(flat.community) == 102 and len(flat.leaf) == 484


def test_same_seed_same_map_and_same_requests() -> None:
    one, two = _map("longgang-2021"), _map("longgang-2021")
    assert np.array_equal(shapely.to_wkb(one.leaf.polygons), shapely.to_wkb(two.leaf.polygons))
    other = _map("longgang-2021", **{"geography.seed": 2})
    assert not np.allclose(one.community.centre, other.community.centre)
    config = load_scenario(ROOT / "scenarios" / "longgang-2021.toml",
                           {**ON_MAP, "simulation.scale": 0.002, "simulation.days": 20})
    runs = []
    for _ in range(2):
        model = GovernanceModel(config, seed=5)
        model.run(20)
        runs.append(model.requests())
    assert np.array_equal(runs[0].location, runs[1].location)
    assert np.array_equal(runs[0].created, runs[1].created)


def test_travel_minutes_by_hand() -> None:
    travel = Travel(detour=1.3, resident_kmh=15.0, team_kmh=30.0, access_minutes=3.0)
    assert travel.minutes(5.0, "resident") == pytest.approx(3 + 60 * 1.3 * 5 / 15)  # 29 min
    assert travel.minutes(np.array([0.0, 10.0]), "team") == pytest.approx([3.0, 3 + 60 * 1.3 * 10 / 30])


def _field_travel(stations: bool) -> tuple[float, float]:
    """longgang-2021 on its map, with the team's stations at the 26 joint work stations (M7) or
    at one city office (the preset's ``offices`` reform taken out)."""
    from sim.scenario.loading import build_scenario, read_raw

    path = ROOT / "scenarios" / "longgang-2021.toml"
    raw = read_raw(path)
    raw["simulation"].update({"scale": 0.002, "days": 60})
    if not stations:
        raw["reforms"] = [r for r in raw["reforms"] if r["name"] != "offices"]
    config = build_scenario(raw, str(path))
    assert bool(config["units"]["enforcement_team"]["sites_at"]) == stations
    model = GovernanceModel(config, seed=2)
    model.run(60)
    kpis = compute_kpis(model, build_tables(model))
    scene = [v["median_hours"] for k, v in kpis["sla_attainment"].items() if "_on_scene_" in k]
    return kpis["geography"]["field_travel_minutes"], float(np.mean(scene))


def test_on_scene_time_falls_when_joint_stations_are_added() -> None:
    one_station, scene_one = _field_travel(stations=False)
    stations, scene_many = _field_travel(stations=True)
    assert stations < 0.7 * one_station  # 26 stations: a much shorter way to the scene
    assert scene_many < scene_one


def test_p_median_and_max_cover_match_brute_force() -> None:
    rng = np.random.default_rng(4)
    for trial in range(5):
        demand, cand = rng.random((15, 2)), rng.random((8, 2))
        weight = rng.random(15) + 0.1
        cost = np.hypot(*(demand[:, None, :] - cand[None, :, :]).transpose(2, 0, 1))
        p = 1 + trial % 3
        exact, reference = p_median(weight, cost, p), brute_force(weight, cost, p)
        assert exact.objective == pytest.approx(reference.objective, rel=1e-9)
        from itertools import combinations

        radius = float(np.median(cost))
        best = max(weight[(cost[:, list(s)] <= radius).any(axis=1)].sum()
                   for s in combinations(range(8), p)) / weight.sum()
        assert max_cover(weight, cost, p, radius).objective == pytest.approx(best, rel=1e-9)


def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600)


def test_place_writes_sites_and_a_scenario_that_runs(tmp_path: Path) -> None:
    out = tmp_path / "place"
    done = _cli("place", str(TOWN), "--unit", "township_office", "--count", "3", "--out", str(out))
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "placement.json").read_text())
    assert summary["count"] == 3 and summary["mean_minutes_new"] <= summary["mean_minutes_now"] + 1e-9
    config = load_scenario(out / "placed.toml")
    assert config["units"]["township_office"]["count"] == 3
    assert len(config["units"]["township_office"]["sites"]) == 3
    model = GovernanceModel(config, scale=0.05)
    model.run(10)
    assert model.requests().kind.size > 0


def test_geojson_communities_round_trip() -> None:
    config = load_scenario(TOWN)
    city = city_map_for(config)
    import geopandas

    frame = geopandas.read_file(ROOT / "scenarios" / "geography" / "example-town.geojson")
    assert len(city.community) == len(frame) == 12
    assert city.community.residents == pytest.approx(frame["population"].to_numpy(dtype=float), rel=1e-9)
    projected = frame.to_crs(frame.estimate_utm_crs())
    assert shapely.area(city.community.polygons).sum() == pytest.approx(projected.area.sum() / 1e6, rel=1e-9)
    model = GovernanceModel(config, scale=0.05)
    model.run(30)
    kpis = compute_kpis(model, build_tables(model))
    assert 0 < kpis["geography"]["share_within_circle"] <= 1


def _write_geojson(path: Path, features: list[dict], crs: bool = True) -> None:
    doc = {"type": "FeatureCollection", "features": features}
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32651"}}
    path.write_text(json.dumps(doc))


def _square(x: float, props: dict) -> dict:
    ring = [[x, 0], [x + 1000, 0], [x + 1000, 1000], [x, 1000], [x, 0]]
    return {"type": "Feature", "properties": props, "geometry": {"type": "Polygon", "coordinates": [ring]}}


BOWTIE = {"type": "Feature", "properties": {"population": 5, "firms": 1},
          "geometry": {"type": "Polygon",
                       "coordinates": [[[0, 0], [1000, 1000], [1000, 0], [0, 1000], [0, 0]]]}}


@pytest.mark.parametrize(("features", "crs", "expected"), [
    ([_square(0, {"population": 100})], True, "no 'firms' attribute"),
    ([_square(0, {"population": 100, "firms": 5})], False, "not longitudes and latitudes"),
    ([BOWTIE], True, "not a valid polygon"),
    ([{"type": "Feature", "properties": {"population": 1, "firms": 1},
       "geometry": {"type": "Point", "coordinates": [0, 0]}}], True, "allowed: Polygon or MultiPolygon"),
    ([_square(0, {"population": -3, "firms": 5})], True, "population must be a finite number >= 0"),
    ([_square(0, {"population": 10, "firms": 5}), _square(500, {"population": 10, "firms": 5})], True,
     "overlap"),
])
def test_bad_geography_is_one_line_exit_2(tmp_path: Path, features: list[dict], crs: bool,
                                          expected: str) -> None:
    geo = tmp_path / "bad.geojson"
    _write_geojson(geo, features, crs)
    scenario = tmp_path / "s.toml"
    scenario.write_text(f'extends = "{TOWN}"\n[geography]\nfile = "bad.geojson"\n')
    done = _cli("run", str(scenario), "--out", str(tmp_path / "out"))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and "geography.file" in lines[0], done.stderr
    assert not (tmp_path / "out" / "kpis.json").exists()


@pytest.mark.parametrize(("text", "expected"), [
    ('[geography]\nfile = "missing.geojson"\n', "does not exist"),
    ('[geography]\nmodel = "line"\nfile = "../geography/example-town.geojson"\n', "needs the map"),
    ('[[reforms]]\nname = "offices"\nunit = "township_office"\nsites_at = "nowhere"\n', "sites_at"),
    ('[units.township_office]\nsites = [[1.0, 2.0]]\n', "one point per unit"),
])
def test_bad_map_settings_are_one_line_exit_2(tmp_path: Path, text: str, expected: str) -> None:
    scenario = tmp_path / "s.toml"
    base = f'extends = "{TOWN}"\n'
    scenario.write_text(base + text)
    done = _cli("run", str(scenario), "--out", str(tmp_path / "out"))
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and expected in done.stderr, done.stderr


def test_a_three_level_grid_scenario_runs(tmp_path: Path) -> None:
    """J6: a county with grids in three levels (17 / 271 / 1,558)."""
    scenario = tmp_path / "j6.toml"
    scenario.write_text(f'extends = "{ROOT / "scenarios" / "township.toml"}"\nname = "j6"\n'
                        '[geography]\nmodel = "map"\n'
                        '[units.village_committee]\ncount = 100\n'
                        '[units.grid]\ncount = 1558\n'
                        '[units.grid_first]\nlevel = "grid"\ncount = 17\nstaff = 2\nknowledge = 0.2\n'
                        'calendar = "patrol"\nfunctions = ["social_assistance"]\n'
                        '[units.grid_second]\nlevel = "grid"\ncount = 271\nstaff = 1\nknowledge = 0.2\n'
                        'calendar = "patrol"\nfunctions = ["civil_affairs"]\n')
    config = load_scenario(scenario, {"simulation.scale": 0.002, "simulation.days": 10})
    model = GovernanceModel(config)
    city = model.structure.city_map
    assert [len(city.layers[n]) for n in city.order[-2:]] == [271, 1558]
    second, third = city.layers[city.order[-2]], city.layers[city.order[-1]]
    assert np.array_equal(second.of_leaf, third.parent)  # third-level grids nest in second-level ones
    assert len(city.layers[city.kind_layer["grid_first"]]) == 17
    model.run(10)
    assert model.requests().kind.size > 0


def test_field_travel_is_the_formula_from_the_nearest_station() -> None:
    """Hand-computed: each field visit's travel = access + 60 x detour x km / team speed, km from
    the scene to the nearest of the team's stations (the 26 joint work stations)."""
    config = load_scenario(ROOT / "scenarios" / "longgang-2021.toml", {"simulation.scale": 0.002})
    model = GovernanceModel(config, seed=3)
    model.run(5)
    legs, requests = model.legs(), model.requests()
    city, geo = model.structure.city_map, config["geography"]
    field = np.flatnonzero(legs.travel > 0)
    assert len(field) > 20
    origins = np.array([k.place_group for k in model.kinds])[requests.kind[legs.request[field]]]
    agent = requests.origin_agent[legs.request[field]]
    xy = np.array([model.population.xy[o][a] for o, a in zip(origins, agent, strict=True)])
    stations = city.offices["enforcement_team"]
    km = np.hypot(xy[:, None, 0] - stations[None, :, 0], xy[:, None, 1] - stations[None, :, 1]).min(axis=1)
    expected = geo["access_minutes"] + 60 * geo["detour"] * km / geo["team_kmh"]
    assert legs.travel[field] == pytest.approx(expected, rel=1e-12)


def test_generated_communities_survive_a_geojson_round_trip(tmp_path: Path, township_map) -> None:
    """Write a generated map's communities as a projected GeoJSON, read them back as a file."""
    import geopandas

    from sim.scenario.geofile import read_communities

    community = township_map.community
    metres = shapely.transform(community.polygons, lambda xy: xy * 1000.0 + [400_000.0, 4_000_000.0])
    frame = geopandas.GeoDataFrame({"population": community.residents, "firms": community.firms},
                                   geometry=list(metres), crs="EPSG:32651")
    path = tmp_path / "communities.geojson"
    frame.to_file(path, driver="GeoJSON")
    read = read_communities(path, "test")
    assert len(read.polygons) == len(community)
    assert read.residents == pytest.approx(community.residents, rel=1e-9)
    assert shapely.area(read.polygons) == pytest.approx(shapely.area(community.polygons), rel=1e-6)


def test_a_sampled_geography_that_put_a_seed_outside_its_area_builds() -> None:
    """A robust study's sample (one core, aspect 1.94, built-up share 0.45) once placed a grid's
    seed outside its community, leaving an empty cell and a crashed run. Every seed now lies in
    its area: every area has ground and a centre inside it."""
    from sim.scenario.loading import load_scenario
    from tests.conftest import SCENARIOS

    sample = {"geography.aspect": 1.9448367218409115, "geography.built_up_firms": 0.833283394062666,
              "geography.built_up_residents": 0.7804471960958708,
              "geography.built_up_share": 0.4504162118924291, "geography.cores": 1}
    city = city_map_for(load_scenario(SCENARIOS / "longgang-2021.toml", sample))
    for name, layer in city.layers.items():
        assert not shapely.is_empty(layer.polygons).any(), name
        assert shapely.contains_xy(layer.polygons, layer.centre[:, 0], layer.centre[:, 1]).all(), name


@pytest.mark.parametrize("layout", ["uniform", "clustered", "duplicates", "a_line", "few"])
def test_nearest_seed_is_the_nearest_by_brute_force(layout: str) -> None:
    """The grid search finds the seed at the least distance for every point (points also far
    outside the seeds' spread, seeds stacked in a few dense spots, on one line, at one place)."""
    from sim.city.geo.nearest import nearest_seed

    rng = np.random.default_rng(21)
    if layout == "uniform":
        seeds = rng.uniform(0, 30, (300, 2))
    elif layout == "clustered":
        centres = rng.normal(size=(4, 2)) * 20
        spread = rng.choice([0.01, 1, 4], (400, 1))
        seeds = centres[rng.integers(4, size=400)] + rng.normal(size=(400, 2)) * spread
    elif layout == "duplicates":
        seeds = np.repeat(rng.uniform(0, 5, (20, 2)), 3, axis=0)
    elif layout == "a_line":
        seeds = np.column_stack((rng.uniform(0, 50, 100), np.full(100, 7.0)))
    else:
        seeds = rng.uniform(0, 1, (2, 2))
    points = np.vstack((rng.uniform(-60, 90, (3000, 2)), seeds + rng.normal(size=seeds.shape) * 0.05))
    d2 = ((points[:, None, :] - seeds[None, :, :]) ** 2).sum(axis=2)
    got = nearest_seed(seeds, points)
    assert np.array_equal(d2[np.arange(len(points)), got], d2.min(axis=1))
    assert np.array_equal(got, d2.argmin(axis=1))  # ties (stacked seeds) to the lowest index
