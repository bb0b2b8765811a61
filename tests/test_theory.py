"""Statistical checks of the simulator against queueing theory.

Each check builds a small scenario whose exact steady-state answer is known, runs independent
replications (different seeds) after a warm-up, and asserts the simulated figure lies within a
stated relative tolerance of theory. The seeds only make a run repeatable: no assertion
compares with a figure taken from a particular seed. Each check against a formula also asserts
that its own standard error (between replications) is at most a third of the tolerance, so a
pass means something and a real discrepancy larger than the tolerance fails with high
probability (a false alarm needs a deviation of more than three standard errors).

  * Erlang C: one unit with c servers, Poisson arrivals, exponential service, load 0.8 ->
    mean wait in queue within 3 % of the M/M/c formula (c = 3 and c = 1).
  * Traffic equations: a grid -> community -> township escalation chain with exponential
    difficulty -> arrival rate at each level within 2 % of lambda exp(-k/complexity).
  * Little's law at each station of the chain: time-average number present = arrival rate x
    mean time at the station, within 3 % (a sample-path identity up to window-edge terms: it
    checks that the logged arrival and departure times are consistent over the window).
  * Jackson network: the chain is feed-forward with Poisson flows, so each station is an
    M/M/c queue; mean time at each station within 3 % of Wq + 1/mu.

Replications run in a pool of worker processes (two by default; ``THEORY_WORKERS`` overrides).
Measured figures are printed (``pytest -s`` shows them).
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import pytest
from scipy import stats

from tests.theory_helpers import (
    chain_replication,
    erlang_c,
    erlang_c_direct,
    mmc_mean_wait,
    single_queue_replication,
    write_scenario,
)

pytestmark = pytest.mark.slow

SE_SHARE = 1.0 / 3.0
"""A check's standard error must be at most this share of its tolerance."""


@pytest.fixture(scope="module")
def pool() -> Iterator[ProcessPoolExecutor]:
    workers = int(os.environ.get("THEORY_WORKERS", min(2, os.cpu_count() or 1)))
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as executor:
        yield executor


def replicate(pool: ProcessPoolExecutor, function: Any, scenario: dict[str, Any],
              seeds: range) -> list[Any]:
    """Run ``function(scenario, seed)`` for every seed in the pool, results in seed order."""
    return list(pool.map(function, [scenario] * len(seeds), seeds))


def mean_and_se(values: np.ndarray) -> tuple[float, float]:
    """Mean of replication results and its standard error."""
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(len(values)))


# --------------------------------------------------------------------------------------------
# The formula itself


@pytest.mark.parametrize(("servers", "offered"), [(1, 0.8), (3, 2.4), (10, 8.5), (40, 36.0)])
def test_erlang_c_formula(servers: int, offered: float) -> None:
    """Erlang C by recursion = textbook sum = Erlang B from SciPy's Poisson law, converted."""
    rho = offered / servers
    blocking = stats.poisson.pmf(servers, offered) / stats.poisson.cdf(servers, offered)
    from_scipy = blocking / (1.0 - rho * (1.0 - blocking))
    assert erlang_c(servers, offered) == pytest.approx(erlang_c_direct(servers, offered), rel=1e-9)
    assert erlang_c(servers, offered) == pytest.approx(from_scipy, rel=1e-9)
    if servers == 1:
        assert erlang_c(1, offered) == pytest.approx(offered)  # M/M/1: P(wait) = rho


# --------------------------------------------------------------------------------------------
# 1. Erlang C: mean wait in queue at one M/M/c unit

ERLANG_TOLERANCE = 0.03
ERLANG_WARMUP_DAYS = 1  # relaxation time from empty is about 0.5 h (M/M/3) and 1.5 h (M/M/1)


@pytest.mark.parametrize(("servers", "rho", "service", "replications", "days"), [
    # Short services give about 1,200-1,400 customers a day, so per-day overheads stay small.
    # Sized for a standard error of about 0.65 % of Wq. Pilot runs gave a relative variance
    # of the mean wait of about 250 / customers for M/M/3 (waiting is rarer, hence noisier)
    # and 130 / customers for M/M/1, so 5.8 and 3.0 million customers.
    (3, 0.8, 2.5, 24, 177),
    (1, 0.8, 1.0, 24, 111),
])
def test_mean_wait_matches_erlang_c(pool: ProcessPoolExecutor, tmp_path: Any, servers: int,
                                    rho: float, service: float, replications: int,
                                    days: int) -> None:
    arrivals_per_minute = rho * servers / service
    scenario = write_scenario(
        tmp_path, f"mm{servers}", [("dept", "department", servers, math.inf)],
        arrivals_per_minute, service_minutes=service, complexity=1.0, days=days,
        warmup_days=ERLANG_WARMUP_DAYS)
    theory = mmc_mean_wait(arrivals_per_minute, service, servers)

    results = replicate(pool, single_queue_replication, scenario, range(1, replications + 1))
    waits = np.array([r[0] for r in results])
    customers = sum(r[1] for r in results)
    mean_service = np.mean([r[2] for r in results])
    measured, se = mean_and_se(waits)
    error = measured / theory - 1.0
    print(f"\nM/M/{servers} rho={rho}: Wq simulated {measured:.4f} min vs Erlang C {theory:.4f} "
          f"(error {error:+.2%}, SE {se / theory:.2%}); {replications} replications x "
          f"{days - ERLANG_WARMUP_DAYS} days after {ERLANG_WARMUP_DAYS} warm-up days, "
          f"{customers} customers; mean service {mean_service:.3f} min")

    assert se / theory <= SE_SHARE * ERLANG_TOLERANCE, "too few customers for a sharp check"
    assert abs(error) <= ERLANG_TOLERANCE, (
        f"mean wait {measured:.4f} min differs from Erlang C {theory:.4f} by {error:+.2%}")


# --------------------------------------------------------------------------------------------
# 2-4. A three-level escalation chain grid -> community -> township

CHAIN_ARRIVALS = 2.5  # requests per minute (3,600 a day)
CHAIN_SERVICE = 2.0  # mean minutes per visit, at every level
CHAIN_COMPLEXITY = 1.0
CHAIN_KNOWLEDGE = (0.5, 1.5, math.inf)
CHAIN_STAFF = (7, 4, 2)  # loads 0.71, 0.76, 0.56
CHAIN_LEVELS = ("grid", "community", "township")
CHAIN_REPLICATIONS = 20
CHAIN_DAYS = 21
CHAIN_WARMUP_DAYS = 1  # relaxation time from empty is well under an hour


def chain_theory_rates() -> np.ndarray:
    """Traffic equations: lambda_i = lambda P(difficulty > k_{i-1}) = lambda exp(-k_{i-1}/c)."""
    thresholds = (0.0, *CHAIN_KNOWLEDGE[:-1])
    return CHAIN_ARRIVALS * np.exp(-np.array(thresholds) / CHAIN_COMPLEXITY)


@pytest.fixture(scope="module")
def chain(pool: ProcessPoolExecutor, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Replications of the chain, run once for the three chain checks."""
    units = [(f"{level}_unit", level, staff, knowledge)
             for level, staff, knowledge in zip(CHAIN_LEVELS, CHAIN_STAFF, CHAIN_KNOWLEDGE,
                                                strict=True)]
    scenario = write_scenario(tmp_path_factory.mktemp("chain"), "chain", units, CHAIN_ARRIVALS,
                              service_minutes=CHAIN_SERVICE, complexity=CHAIN_COMPLEXITY,
                              days=CHAIN_DAYS, warmup_days=CHAIN_WARMUP_DAYS)
    runs = replicate(pool, chain_replication, scenario, range(101, 101 + CHAIN_REPLICATIONS))
    return {key: np.array([run[key] for run in runs]) for key in runs[0]}


def test_chain_routes_climb_the_levels_in_order(chain: dict[str, Any]) -> None:
    assert chain["path_ok"].all(), "some request's legs do not follow grid, community, township"


TRAFFIC_TOLERANCE = 0.02


def test_chain_arrival_rates_match_traffic_equations(chain: dict[str, Any]) -> None:
    theory = chain_theory_rates()
    # no dispatch delay: every request created in the window arrives at the grid in it
    assert np.array_equal(chain["arrivals"][:, 0], chain["requests"])
    rates = chain["arrivals"] / chain["window"][:, None]  # replication x level, per minute
    for i, level in enumerate(CHAIN_LEVELS):
        measured, se = mean_and_se(rates[:, i])
        error = measured / theory[i] - 1.0
        print(f"\n{level}: arrival rate {measured * 1440:.2f}/day vs traffic equations "
              f"{theory[i] * 1440:.2f}/day (error {error:+.2%}, SE {se / theory[i]:.2%}; "
              f"{chain['arrivals'][:, i].sum()} arrivals)")
        assert se / theory[i] <= SE_SHARE * TRAFFIC_TOLERANCE, "too few arrivals for a sharp check"
        assert abs(error) <= TRAFFIC_TOLERANCE, (
            f"{level}: arrival rate {measured:.5f}/min vs {theory[i]:.5f}/min ({error:+.2%})")


LITTLE_TOLERANCE = 0.03


def test_littles_law_at_each_station(chain: dict[str, Any]) -> None:
    """L = lambda W per station, all three measured over the same window [t0, t1].

    L integrates the number present (in queue or in service) over the window: each leg
    contributes the part of [leg_arrive, leg_end] inside the window, so legs that arrived
    before t0 or leave after t1 count only for their time inside. lambda counts arrivals in
    the window; W is the mean of leg_end - leg_arrive over those arrivals (known in full,
    since a first-come-first-served leg's times are fixed on arrival). The two sides differ by
    edge terms (present at t0 minus present at t1, weighted by remaining time), of order
    L W / (t1 - t0), far below the tolerance here.
    """
    window = chain["window"].sum()
    for i, level in enumerate(CHAIN_LEVELS):
        arrivals = chain["arrivals"][:, i]
        number = chain["area"][:, i].sum() / window
        rate = arrivals.sum() / window
        sojourn = chain["sojourn_sum"][:, i].sum() / arrivals.sum()
        error = number / (rate * sojourn) - 1.0
        print(f"\n{level}: L = {number:.4f} vs lambda W = {rate:.5f}/min x {sojourn:.3f} min "
              f"= {rate * sojourn:.4f} (error {error:+.3%})")
        assert abs(error) <= LITTLE_TOLERANCE, (
            f"{level}: time-average number {number:.4f} vs lambda W {rate * sojourn:.4f}")
        # and per replication, where window edges weigh most
        per_run = chain["area"][:, i] / (chain["sojourn_sum"][:, i])
        assert np.all(np.abs(per_run - 1.0) <= LITTLE_TOLERANCE), per_run


JACKSON_TOLERANCE = 0.03


def test_chain_time_at_station_matches_jackson_network(chain: dict[str, Any]) -> None:
    """Flows in a feed-forward network of M/M/c queues with independent routing stay Poisson
    (Burke's theorem, thinning), so each station is an M/M/c queue at its traffic-equation
    rate and its mean time at the station is Wq(M/M/c) + mean service."""
    rates = chain_theory_rates()
    sojourn = chain["sojourn_sum"] / chain["arrivals"]
    for i, level in enumerate(CHAIN_LEVELS):
        theory = mmc_mean_wait(rates[i], CHAIN_SERVICE, CHAIN_STAFF[i]) + CHAIN_SERVICE
        measured, se = mean_and_se(sojourn[:, i])
        error = measured / theory - 1.0
        print(f"\n{level}: time at station {measured:.3f} min vs M/M/{CHAIN_STAFF[i]} "
              f"{theory:.3f} min (error {error:+.2%}, SE {se / theory:.2%})")
        assert se / theory <= SE_SHARE * JACKSON_TOLERANCE, "too few legs for a sharp check"
        assert abs(error) <= JACKSON_TOLERANCE, (
            f"{level}: mean time at station {measured:.3f} vs M/M/c {theory:.3f} ({error:+.2%})")
