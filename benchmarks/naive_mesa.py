"""Daily request generation: the textbook Mesa way against this project's bulk generation.

Usage: python benchmarks/naive_mesa.py [--scale 0.1] [--days 365] [--whole-process [--repeat N]]

Same agents (the residents and firms of longgang-2021 at the given scale, each standing for
1/scale real ones), same request kinds and yearly rates, same days. Naive: every agent's
``step()`` runs each day via ``model.agents.shuffle_do("step")``, draws from the agent's random
stream for each kind it can create and appends a request object. Project: ``Demand.days`` draws
each kind's daily Poisson counts and picks creators for all agents of a kind at once (NumPy), in
the same 28-day passes the model uses. Prints requests made and seconds for each, and the ratio.

``--whole-process`` (issue 16: target >= 100x): as a user feels it, each in a fresh process.
Naive: start Python, import Mesa, create the agents and step them through the year (generation
only: nothing is served); this project: ``run.py run`` of the whole model (map, agents,
generation, behaviour, service, KPIs, files). Default scale 1.0 here: the full city.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import mesa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.city.model import PLAN_DAYS, GovernanceModel  # noqa: E402
from sim.scenario.loading import load_scenario  # noqa: E402

SCENARIO = ROOT / "scenarios" / "longgang-2021.toml"


@dataclass
class Request:
    kind: str
    origin: int
    created: float


class NaiveAgent(mesa.Agent):
    """One resident or firm: each day, for each kind it can create, a draw and maybe a request."""

    def __init__(self, model: NaiveModel, kinds: list[tuple[str, float, float, float]]) -> None:
        super().__init__(model)
        self.kinds = kinds  # (name, probability per day, opening minute, open minutes)

    def step(self) -> None:
        for name, probability, opens, minutes in self.kinds:
            if self.random.random() < probability:
                created = self.model.day * 1440.0 + opens + minutes * self.random.random()
                self.model.requests.append(Request(name, self.unique_id, created))


class NaiveModel(mesa.Model):
    def __init__(self, n_residents: int, n_firms: int, resident_kinds: list, firm_kinds: list,
                 seed: int = 1) -> None:
        super().__init__(rng=seed)
        self.day = 0
        self.requests: list[Request] = []
        NaiveAgent.create_agents(self, n_residents, resident_kinds)
        NaiveAgent.create_agents(self, n_firms, firm_kinds)

    def step(self) -> None:
        self.agents.shuffle_do("step")
        self.day += 1


def naive_kinds(model: GovernanceModel, origin: str, weight: float) -> list[tuple[str, float, float, float]]:
    """Per-agent daily probability of each kind (yearly rate x weight / 365; all < 1 here)."""
    kinds = []
    for kind in model.kinds:
        if kind.origin != origin:
            continue
        cal = model.structure.calendars[kind.arrival_calendar]
        share = 1.0 if kind.segment == "any" else (
            model.population.real_above_scale_share if kind.segment == "above_scale_firm"
            else 1 - model.population.real_above_scale_share)
        probability = kind.rate_per_year * share * weight / 365.0
        kinds.append((kind.name, probability, cal.open, cal.day_minutes))
    return kinds


def _naive_child(kinds_file: str, days: int) -> None:
    """The naive model alone in this process: the kinds were worked out by the parent, so this
    process pays only for what the textbook way costs (Mesa, agents, their daily steps)."""
    spec = json.loads(Path(kinds_file).read_text())
    naive = NaiveModel(spec["residents"], spec["firms"], spec["resident_kinds"], spec["firm_kinds"])
    for _ in range(days):
        naive.step()
    print(len(naive.requests))


def _timed(command: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return time.perf_counter() - started, out.stdout


def whole_process(scale: float, days: int, repeat: int) -> None:
    config = load_scenario(SCENARIO, {"simulation.scale": scale})
    model = GovernanceModel(config)
    weight = 1.0 / scale
    spec = {"residents": len(model.population.location["resident"]),
            "firms": len(model.population.location["firm"]),
            "resident_kinds": naive_kinds(model, "resident", weight),
            "firm_kinds": naive_kinds(model, "firm", weight)}
    print(f"whole process, {spec['residents']:,} residents + {spec['firms']:,} firms (scale {scale}), "
          f"{days} days, median of {repeat} (target >= 100x)")
    with tempfile.TemporaryDirectory() as tmp:
        kinds_file = Path(tmp) / "kinds.json"
        kinds_file.write_text(json.dumps(spec))
        ours, naive = [], []
        for _ in range(repeat):
            ours.append(_timed([sys.executable, str(ROOT / "run.py"), "run", str(SCENARIO), "--scale",
                                str(scale), "--days", str(days), "--out", f"{tmp}/out"])[0])
        for _ in range(repeat):
            seconds, printed = _timed([sys.executable, __file__, "--naive-child", str(kinds_file),
                                       "--days", str(days)])
            naive.append(seconds)
    t_ours, t_naive = statistics.median(ours), statistics.median(naive)
    print(f"naive Mesa, generation only ({int(printed):,} requests): {t_naive:.1f} s")
    print(f"this project, run.py run (the whole model and its files): {t_ours:.2f} s")
    print(f"ratio: {t_naive / t_ours:.0f}x (target >= 100x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, help="agent share (default 0.1; 1.0 with --whole-process)")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--whole-process", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, help="processes per side (--whole-process)")
    parser.add_argument("--naive-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.naive_child:
        _naive_child(args.naive_child, args.days)
        return
    if args.whole_process:
        whole_process(args.scale or 1.0, args.days, args.repeat)
        return
    args.scale = args.scale or 0.1
    config = load_scenario(SCENARIO, {"simulation.scale": args.scale})
    model = GovernanceModel(config)
    n_res = len(model.population.location["resident"])
    n_firm = len(model.population.location["firm"])
    weight = 1.0 / args.scale
    print(f"agents: {n_res:,} residents + {n_firm:,} firms (scale {args.scale}), {args.days} days")

    naive = NaiveModel(n_res, n_firm, naive_kinds(model, "resident", weight),
                       naive_kinds(model, "firm", weight))
    started = time.perf_counter()
    for _ in range(args.days):
        naive.step()
    naive_seconds = time.perf_counter() - started

    bulk_kinds = [k for k in model.demand.kinds if k.origin in ("resident", "firm")]
    model.demand.kinds = bulk_kinds
    started = time.perf_counter()
    made = 0
    for first in range(0, args.days, PLAN_DAYS):
        made += len(model.demand.days(first, min(first + PLAN_DAYS, args.days)))
    bulk_seconds = time.perf_counter() - started

    print(f"naive Mesa (shuffle_do('step'), one draw per agent, kind and day): "
          f"{len(naive.requests):,} requests in {naive_seconds:.2f} s")
    print(f"this project (Demand.days over whole agent sets, {PLAN_DAYS}-day passes): "
          f"{made:,} requests in {bulk_seconds:.3f} s")
    print(f"ratio: {naive_seconds / bulk_seconds:.0f}x faster at equal work (target >= 50x); "
          f"request counts differ by {abs(made / len(naive.requests) - 1):.1%} (sampling noise)")


if __name__ == "__main__":
    main()
