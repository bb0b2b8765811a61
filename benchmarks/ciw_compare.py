"""This project's queueing core against Ciw on the same open networks, and both against theory.

Usage: python benchmarks/ciw_compare.py [--customers 100000 1000000] [--skip-ciw-above N]
Needs the benchmark extra: pip install -e '.[bench]'.

Networks (Poisson arrivals, exponential service, FCFS, 24/7):
  * one M/M/5 station at load 0.8;
  * three M/M/5 stations in series, each at load 0.8 (a Jackson network: each behaves as M/M/5).
For each size: wall time of both, the ratio, and each mean wait in queue against Erlang C
(agreement within 3 % is the bar). The first 5 % of customers are discarded as warm-up.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.calendars import WeeklyCalendar  # noqa: E402
from sim.fastengine import CompiledEngine  # noqa: E402
from sim.planner import Legs  # noqa: E402

SERVERS, LOAD, SERVICE_MEAN = 5, 0.8, 1.0
ARRIVAL_RATE = LOAD * SERVERS / SERVICE_MEAN


def erlang_c_wait(servers: int, arrival_rate: float, service_mean: float) -> float:
    """Mean wait in queue of M/M/c (Erlang C)."""
    a = arrival_rate * service_mean  # offered load in erlangs
    top = a**servers / math.factorial(servers) / (1 - a / servers)
    probability_wait = top / (sum(a**k / math.factorial(k) for k in range(servers)) + top)
    return probability_wait / (servers / service_mean - arrival_rate)


def ours(customers: int, stations: int, seed: int) -> tuple[float, list[float]]:
    """Wall time and mean wait per station through the project's compiled engine."""
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    arrivals = np.cumsum(rng.exponential(1 / ARRIVAL_RATE, customers))
    always = WeeklyCalendar(0, 24, list(range(7)))
    engine = CompiledEngine([SERVERS] * stations, [always] * stations, always)
    legs = Legs(np.repeat(np.arange(customers), stations), np.tile(np.arange(stations), customers),
                rng.exponential(SERVICE_MEAN, customers * stations), np.zeros(customers * stations),
                np.zeros(customers * stations), np.zeros(customers * stations, dtype=bool),
                np.zeros(customers * stations, dtype=bool))
    engine.add(arrivals, legs)
    engine.run_until(math.inf)
    log = engine.log()
    elapsed = time.perf_counter() - started
    wait = (log.leg_start - log.leg_arrive).reshape(customers, stations)[customers // 20:]
    return elapsed, list(wait.mean(axis=0))


def ciw_run(customers: int, stations: int, seed: int) -> tuple[float, list[float]]:
    import ciw

    started = time.perf_counter()
    routing = [[1.0 if j == i + 1 else 0.0 for j in range(stations)] for i in range(stations)]
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(ARRIVAL_RATE)] + [None] * (stations - 1),
        service_distributions=[ciw.dists.Exponential(1 / SERVICE_MEAN)] * stations,
        number_of_servers=[SERVERS] * stations, routing=routing)
    ciw.seed(seed)
    sim = ciw.Simulation(network)
    sim.simulate_until_max_customers(customers, method="Finish")
    elapsed = time.perf_counter() - started
    records = sim.get_all_records()
    waits = [[] for _ in range(stations)]
    ids = sorted({r.id_number for r in records})
    cut = ids[len(ids) // 20] if ids else 0
    for r in records:
        if r.id_number >= cut:
            waits[r.node - 1].append(r.waiting_time)
    return elapsed, [float(np.mean(w)) for w in waits]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--skip-ciw-above", type=int, default=10**9,
                        help="run Ciw only up to this many customers x stations")
    args = parser.parse_args()
    ours(1000, 1, 0)  # load the compiled kernel once (cached on disk after the first session)
    theory = erlang_c_wait(SERVERS, ARRIVAL_RATE, SERVICE_MEAN)
    print(f"M/M/{SERVERS} at load {LOAD}: Erlang C mean wait {theory:.4f} (service mean {SERVICE_MEAN})")
    print(f"{'network':<16}{'customers':>11}{'ours s':>9}{'Ciw s':>9}{'ratio':>8}  "
          f"{'our wait err':>13}{'Ciw wait err':>14}")
    for stations, label in ((1, "M/M/5"), (3, "3 x M/M/5")):
        for n in args.customers:
            t_ours, w_ours = ours(n, stations, 1)
            err_ours = max(abs(w / theory - 1) for w in w_ours)
            if n * stations <= args.skip_ciw_above:
                t_ciw, w_ciw = ciw_run(n, stations, 1)
                err_ciw = max(abs(w / theory - 1) for w in w_ciw)
                ciw_cols = f"{t_ciw:9.2f}{t_ciw / t_ours:7.0f}x  {err_ours:12.2%}{err_ciw:14.2%}"
            else:
                ciw_cols = f"{'-':>9}{'-':>8}  {err_ours:12.2%}{'-':>14}"
            print(f"{label:<16}{n:>11,}{t_ours:9.2f}{ciw_cols}")
    print("(wait err: largest relative error of a station's mean wait against Erlang C; bar: 3 %)")


if __name__ == "__main__":
    main()
