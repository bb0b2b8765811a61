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

from sim.engine.calendars import WeeklyCalendar  # noqa: E402
from sim.engine.compiled import CompiledEngine  # noqa: E402
from sim.engine.legs import Legs  # noqa: E402

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


def replicated(run, n: int, stations: int, reps: int, theory: float) -> tuple[float, float]:
    """Median wall time of ``reps`` seeds, and the largest station's relative error of the mean
    wait averaged over them (one run's error is noisy: about 1.7 % sd at 10^6 customers)."""
    results = [run(n, stations, seed) for seed in range(1, reps + 1)]
    seconds = float(np.median([r[0] for r in results]))
    waits = np.mean([r[1] for r in results], axis=0)
    return seconds, float(max(abs(w / theory - 1) for w in waits))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--reps", type=int, default=20, help="seeds per network and size for ours")
    parser.add_argument("--ciw-reps", type=int, nargs=2, default=[5, 1],
                        help="seeds for Ciw below / from 10^6 customers")
    parser.add_argument("--skip-ciw-above", type=int, default=10**9,
                        help="run Ciw only up to this many customers x stations")
    args = parser.parse_args()
    ours(1000, 1, 0)  # load the compiled kernel once (cached on disk after the first session)
    theory = erlang_c_wait(SERVERS, ARRIVAL_RATE, SERVICE_MEAN)
    print(f"M/M/{SERVERS} at load {LOAD}: Erlang C mean wait {theory:.4f} (service mean {SERVICE_MEAN}); "
          f"errors are of the mean over the seeds shown")
    print(f"{'network':<12}{'customers':>11}{'ours s':>8}{'Ciw s':>8}{'ratio':>7}"
          f"{'ours err (seeds)':>18}{'Ciw err (seeds)':>17}")
    for stations, label in ((1, "M/M/5"), (3, "3 x M/M/5")):
        for n in args.customers:
            t_ours, e_ours = replicated(ours, n, stations, args.reps, theory)
            line = f"{label:<12}{n:>11,}{t_ours:8.2f}"
            if n * stations <= args.skip_ciw_above:
                ciw_reps = args.ciw_reps[0] if n < 1_000_000 else args.ciw_reps[1]
                t_ciw, e_ciw = replicated(ciw_run, n, stations, ciw_reps, theory)
                line += (f"{t_ciw:8.2f}{t_ciw / t_ours:6.0f}x{e_ours:12.2%} ({args.reps})"
                         f"{e_ciw:11.2%} ({ciw_reps})")
            else:
                line += f"{'-':>8}{'-':>7}{e_ours:12.2%} ({args.reps}){'-':>15}"
            print(line)
    print("(err: largest relative error of a station's mean wait against Erlang C; bar: 3 %)")


if __name__ == "__main__":
    main()
