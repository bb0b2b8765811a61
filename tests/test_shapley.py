"""Sampled Shapley values (issue 14, item 5): exact on a full enumeration, efficient on every
sample, converging to the exact values with honest intervals, on a game and on the model."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from sim.experiments.attribution import attribute
from sim.experiments.shapley import (
    all_feasible_orderings,
    exact_shapley,
    ordering_shapley,
    prefixes,
    sample_feasible_orderings,
    sample_orderings,
    sampled_shapley,
)
from tests.conftest import TINY


def game(n: int, seed: int):
    """A cooperative game with interactions: own effects, pair synergies and a threshold bonus
    (what queues do: a reform helps more once others removed the bottleneck)."""
    rng = np.random.default_rng(seed)
    own, pair = rng.normal(0, 1, n), rng.normal(0, 0.5, (n, n))

    def value(s: tuple[int, ...]) -> float:
        synergy = sum(pair[i, j] for i, j in itertools.combinations(s, 2))
        return float(own[list(s)].sum() + synergy + (3.0 if len(s) >= n // 2 + 1 else 0.0))
    return value


def test_all_orderings_give_the_exact_values() -> None:
    n, value = 5, game(5, 1)
    orderings = []
    for order in itertools.permutations(range(n)):  # the reverse of each is there too: pair them
        if order < order[::-1]:
            orderings += [order, order[::-1]]
    mean, _ = sampled_shapley(n, value, orderings)
    assert mean == pytest.approx(exact_shapley(n, value), abs=1e-12)


@pytest.mark.parametrize("count", [2, 8, 40])
def test_every_sample_is_efficient(count: int) -> None:
    n, value = 8, game(8, 2)
    total = value(tuple(range(n))) - value(())
    for seed in range(5):
        mean, _ = sampled_shapley(n, value, sample_orderings(n, count, np.random.default_rng(seed)))
        assert mean.sum() == pytest.approx(total, abs=1e-9)


def test_sampled_values_converge_to_the_exact_ones_with_honest_intervals() -> None:
    """8 reforms. Error falls like 1/sqrt(orderings): 62x the orderings cut the RMS error by
    about 8; asked at least 4. Coverage of the 95 % t-interval over 200 samples of 40
    orderings: at least 88 % (binomial sd 1.5 % around 95 %; the t-interval on 20 pairs is
    close to nominal)."""
    n, value = 8, game(8, 3)
    exact = np.array(exact_shapley(n, value))

    def rms(count: int, seeds: range) -> float:
        errors = [sampled_shapley(n, value, sample_orderings(n, count, np.random.default_rng(s)))[0] - exact
                  for s in seeds]
        return float(np.sqrt(np.mean(np.square(errors))))
    assert rms(16, range(40)) > 4 * rms(992, range(40))
    covered = []
    for seed in range(200):
        mean, half = sampled_shapley(n, value, sample_orderings(n, 40, np.random.default_rng(1000 + seed)))
        covered += list(np.abs(mean - exact) <= half)
    assert np.mean(covered) >= 0.88


def test_prefixes_are_what_the_orderings_pass_through() -> None:
    assert prefixes([(2, 0, 1), (1, 0, 2)]) == {(), (2,), (0, 2), (0, 1, 2), (1,), (0, 1)}
    with pytest.raises(ValueError):
        sampled_shapley(3, game(3, 0), [(0, 1, 2)])  # an unpaired ordering


def test_changes_that_need_others_count_only_orderings_where_they_come_after() -> None:
    """Change 1 needs change 0 and change 3 needs change 2: a quarter of the 6! orderings are
    feasible. Exact = the mean over them (efficient); rejection sampling converges to it."""
    n, value = 6, game(6, 4)

    def feasible(s: tuple[int, ...]) -> bool:
        return (1 not in s or 0 in s) and (3 not in s or 2 in s)
    every = all_feasible_orderings(n, feasible)
    assert len(every) == math.factorial(n) // 4
    exact = np.array(ordering_shapley(n, value, every))
    assert exact.sum() == pytest.approx(value(tuple(range(n))) - value(()), abs=1e-9)
    assert not np.allclose(exact, exact_shapley(n, value))  # the constraint matters
    drawn = sample_feasible_orderings(n, 4000, np.random.default_rng(5), feasible)
    assert all(o.index(1) > o.index(0) and o.index(3) > o.index(2) for o in drawn)
    mean, half = sampled_shapley(n, value, drawn)
    assert np.all(np.abs(mean - exact) <= 2 * half + 1e-12)
    assert mean.sum() == pytest.approx(exact.sum(), abs=1e-9)


EIGHT = "".join(
    f'[[reforms]]\nname = "staff_share"\nshare = {share}\nlevels = ["{level}"]\n'
    for share, level in [(0.6, "community"), (1.5, "department"), (0.8, "grid"), (1.3, "community"),
                         (0.7, "department"), (1.4, "grid"), (0.9, "leadership"), (1.2, "department")])


def test_on_the_model_sampled_attribution_matches_exact_on_eight_reforms(tmp_path: Path) -> None:
    """Eight staff changes interact through the queues. The sampled values (80 orderings) fall
    within max(2 x their 95 % interval, 1 % of the total change) of the exact ones, and add up
    to the total; the in-order and reverse chains are the same under both methods."""
    (tmp_path / "base.toml").write_text(TINY)
    (tmp_path / "target.toml").write_text('extends = "base.toml"\nname = "eight"\n' + EIGHT)
    common = {"reps": 1, "days": 6, "workers": 2}
    exact = attribute(tmp_path / "base.toml", tmp_path / "target.toml", **common)
    sampled = attribute(tmp_path / "base.toml", tmp_path / "target.toml", orderings=80, seed=3, **common)
    assert {r["shapley_method"] for r in exact} == {"exact"}
    assert {r["shapley_method"] for r in sampled} == {"sampled (80 orderings, antithetic pairs)"}
    key = {(r["reform"], r["metric"]): r for r in exact}
    checked = 0
    for metric in {r["metric"] for r in sampled}:
        rows = [r for r in sampled if r["metric"] == metric and r["reform"] != "total"]
        total = next(r for r in sampled if r["metric"] == metric and r["reform"] == "total")
        change = abs(total["shapley"])
        assert sum(r["shapley"] for r in rows) == pytest.approx(total["shapley"], abs=1e-9 * max(1, change))
        for r in rows:
            e = key[(r["reform"], metric)]
            assert (r["in_order"], r["reverse"]) == (e["in_order"], e["reverse"])
            assert math.isfinite(r["shapley_ci95"])
            assert abs(r["shapley"] - e["shapley"]) <= max(2 * r["shapley_ci95"], 0.01 * change, 1e-9), (
                metric, r["reform"], r["shapley"], e["shapley"], r["shapley_ci95"])
            checked += 1
    assert checked >= 8 * 3
