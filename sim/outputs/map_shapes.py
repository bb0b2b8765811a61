"""The map's shapes as plain JSON (rings of km coordinates), kept with a batch's first run of
each scenario so the report can draw choropleths and the organisation without rebuilding it."""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely

MAX_DRAWN_AREAS = 5_000  # levels with more areas (micro-grids) are not kept: too fine to see


def _rings(polygon: shapely.Geometry) -> list[list[list[float]]]:
    parts = polygon.geoms if polygon.geom_type == "MultiPolygon" else [polygon]
    return [np.round(shapely.get_coordinates(p.exterior), 3).tolist() for p in parts if not p.is_empty]


def map_shapes(model: Any) -> dict[str, Any]:
    """Areas per level (communities, grids, every grouping a unit kind uses), offices per unit kind
    with its level and catchment level, and the service centre's kind."""
    structure, city = model.structure, model.structure.city_map
    layers = {name: [_rings(p) for p in city.layers[name].polygons]
              for name in city.order if name != "city" and len(city.layers[name]) <= MAX_DRAWN_AREAS}
    offices = {k.name: {"level": k.level, "layer": city.kind_layer[k.name],
                        "points": np.round(city.offices[k.name], 3).tolist()}
               for k in structure.kinds if k.count > 1 or len(city.offices[k.name]) > 1}
    return {"layers": layers, "offices": offices, "order": [n for n in city.order if n in layers],
            "boundary": _rings(city.layers["city"].polygons[0])}
