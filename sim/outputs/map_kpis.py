"""KPIs only a map can give: citizens' time, the service circle, field travel, and per community.

Citizen time of a visit in person = the trip there and back (``Travel``: access + detour x
distance / speed, each way) + waiting at the window (arrival to service start, within opening
hours: one not served by closing comes back another day, a second trip) + the service itself
(its staff minutes as the unit works them). A resident's or founder's time per year adds
these over every visit made in the KPI window, scaled to a year, per real resident or firm.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.city.catalogue import of_origin
from sim.city.demand import request_points
from sim.engine.calendars import DAY


def map_kpis(model: Any, t: Any, lo: float, hi: float, busy: np.ndarray, capacity: np.ndarray,
             first_real: np.ndarray) -> dict[str, Any]:
    """The ``geography`` KPI block (see README: KPI reference).

    Args:
        t: the run's ``RunTables``.
        lo, hi: the KPI window (calendar minutes).
        busy, capacity: per unit, server minutes serving requests and open server minutes in the
            window (a centre's load: the share of its open time its visitors and files take).
        first_real: each request's first leg that is not a bounce.
    """
    structure, city, pop = model.structure, model.structure.city_map, model.population
    xy = request_points(pop, [k.place_group for k in model.kinds], t.kind, t.origin_agent)
    leg_request = np.repeat(np.arange(len(t.kind)), t.leg_count)
    started = ~np.isnan(t.leg_start) & ~np.isnan(t.leg_arrive) & (t.leg_start <= hi)
    trip = t.leg_trip & started & (t.created[leg_request] >= lo)
    req = leg_request[trip]
    one_way = np.zeros(int(trip.sum()))
    unit = t.leg_unit[trip]
    for k in np.unique(structure.unit_kind[unit]):
        pick = structure.unit_kind[unit] == k
        kind = structure.kinds[k]
        one_way[pick] = city.minutes_to_office(kind.name, unit[pick] - kind.first, xy[req[pick]], "resident")
    served = t.leg_service[trip] * structure.unit_service_factor[unit]
    waiting, returns = _waiting_in_person(structure, unit, t.leg_arrive[trip], t.leg_start[trip])
    present = 2 * one_way * (1 + returns) + waiting + served
    per_request = np.bincount(req, weights=present, minlength=len(t.kind))
    years = (hi - lo) / DAY / 365.0
    out: dict[str, Any] = {
        "trip_minutes_one_way": float(one_way.mean()) if len(one_way) else None,
        "citizen_minutes_per_visit": float(present.mean()) if len(present) else None,
        "resident_hours_per_year": float(per_request[of_origin(model.kinds, t.kind, "resident")].sum() / 60.0
                                         / pop.real_size["resident"] / years) if years > 0 else None,
        "firm_hours_per_year": float(per_request[of_origin(model.kinds, t.kind, "firm")].sum() / 60.0
                                     / max(pop.real_size["firm"], 1.0) / years) if years > 0 else None,
    }
    centre = service_centre(model, t, leg_request)
    if centre is not None:
        kind = structure.kinds[centre]
        leaf = pop.location["resident"]
        instance = structure.unit_of_leaf[centre, leaf] - kind.first
        minutes = city.minutes_to_office(kind.name, instance, pop.xy["resident"], "resident")
        out["service_centre"] = kind.name
        out["share_within_circle"] = float((minutes <= city.circle_minutes).mean())
        out["circle_minutes"] = city.circle_minutes
        out["by_community"] = _by_community(model, t, per_request, centre, busy, capacity, lo)
    sized = _sized_units(model)
    if sized:
        out["sized_units"] = sized
    first_travel = t.leg_travel[first_real]
    field = (first_travel > 0) & (t.created >= lo)
    out["field_travel_minutes"] = float(first_travel[field].mean()) if field.any() else None
    return out


def _waiting_in_person(structure: Any, unit: np.ndarray, arrive: np.ndarray,
                       start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minutes a requester waits at the window, and the extra trips it costs: one not served by
    closing time waits until closing, goes home and comes back at the opening of the day the
    service starts (assumed: queues from opening), so nights are not counted as waiting."""
    opening = np.array([c.open for c in structure.unit_calendar])[unit]
    length = np.array([c.day_minutes for c in structure.unit_calendar])[unit]
    day_in, day_served = np.floor(arrive / DAY), np.floor(start / DAY)
    later = (day_served > day_in) & (length < DAY)
    closing = day_in * DAY + opening + length
    wait = np.where(later, np.clip(closing - arrive, 0.0, None) + (start - (day_served * DAY + opening)),
                    start - arrive)
    return np.clip(wait, 0.0, None), later.astype(float)


def _sized_units(model: Any) -> dict[str, dict[str, float]]:
    """Unit kinds whose catchments follow a sizing rule (F9): the number of units the rule implies
    on this map (residents / target size, summed over communities), and the share of units whose
    residents fall in the rule's band (target +- 1/7: F9's 30-40k around 35k, 10-20k around 15k)."""
    structure, city = model.structure, model.structure.city_map
    threshold = model.config["geography"]["built_up_threshold"]
    out = {}
    for k in structure.kinds:
        rule = structure.unit_config[k.name]["residents_per_unit"]
        layer_name = city.kind_layer[k.name]
        if not rule or layer_name is None:
            continue
        community, layer = city.community, city.layers[layer_name]
        target = np.where(community.built_up >= threshold, rule[0], rule[1])
        unit_target = np.where(layer.built_up >= threshold, rule[0], rule[1])
        band = np.where(layer.built_up >= threshold, 5_000.0 / 35_000.0, 5_000.0 / 15_000.0)
        out[k.name] = {"count": k.count, "implied_count": float((community.residents / target).sum()),
                       "share_in_band": float((np.abs(layer.residents / unit_target - 1) <= band).mean())}
    return out


def service_centre(model: Any, t: Any, leg_request: np.ndarray) -> int | None:
    """Residents' service centre: the scenario's ``service_centre``, else the unit kind taking the
    most residents' first visits in person."""
    structure = model.structure
    named = structure.city_map.service_centre
    if named:
        return next(i for i, k in enumerate(structure.kinds) if k.name == named)
    first = t.leg_first[of_origin(model.kinds, t.kind, "resident") & (t.leg_count > 0)]
    first = first[t.leg_trip[first] & ~t.leg_bounce[first]]
    if not len(first):
        return None
    kinds = structure.unit_kind[t.leg_unit[first]]
    return int(np.bincount(kinds).argmax())


def _by_community(model: Any, t: Any, per_request: np.ndarray, centre: int, busy: np.ndarray,
                  capacity: np.ndarray, lo: float) -> dict[str, list[float | None]]:
    """Per community: residents, citizen minutes per in-person request, resident requests'
    mean resolution hours, and the load (utilisation) of the centre serving it."""
    structure, city = model.structure, model.structure.city_map
    community = city.community
    n = len(community)
    resident = of_origin(model.kinds, t.kind, "resident") & (t.created >= lo)
    area = community.of_leaf[t.location[resident].astype(np.int64)]
    in_person = per_request[resident] > 0
    minutes = _ratio(np.bincount(area[in_person], weights=per_request[resident][in_person], minlength=n),
                     np.bincount(area[in_person], minlength=n))
    done = ~np.isnan(t.resolved[resident])
    hours = (t.resolved[resident][done] - t.created[resident][done]) / 60.0
    resolution = _ratio(np.bincount(area[done], weights=hours, minlength=n),
                        np.bincount(area[done], minlength=n))
    first_leaf = np.unique(community.of_leaf, return_index=True)[1]  # a leaf of each community
    unit = structure.unit_of_leaf[centre, first_leaf]
    load = np.where(capacity[unit] > 0, busy[unit] / np.maximum(capacity[unit], 1e-9), np.nan)
    return {"residents": community.residents.round(1).tolist(),
            "citizen_minutes_per_request": _listed(minutes), "resolution_hours": _listed(resolution),
            "centre_load": _listed(load)}


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.where(den > 0, num / np.maximum(den, 1), np.nan)


def _listed(values: np.ndarray) -> list[float | None]:
    return [None if np.isnan(v) else round(float(v), 4) for v in values]
