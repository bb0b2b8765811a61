"""Fit the online channel's constant so the township design's online share is B4's 27.6 %.

Usage: python tools/calibrate_channels.py [--reps 3] [--scale 0.01] [--days 180]
A calibration, not a validation: the constant is chosen so this one number comes out. Runs use
common random numbers (the same seeds at every trial constant), so the share is a smooth,
increasing function of the constant and Brent's method finds the root. Prints the constant to
put in scenarios/common/city.toml (``behaviour.channels.online_constant``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import brentq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.experiments.api import run_scenario  # noqa: E402

TARGET = 0.276  # B4: items actually done online


def online_share(constant: float, reps: int, scale: float, days: int) -> float:
    shares = [run_scenario(ROOT / "scenarios" / "township.toml", seed=100 + r, scale=scale, days=days,
                           overrides={"behaviour.channels.online_constant": constant,
                                      "simulation.warmup_days": days // 4}).kpis["behaviour"]["online_share"]
              for r in range(reps)]
    share = float(np.mean(shares))
    print(f"online_constant {constant:8.2f}: online share {share:.4f}", flush=True)
    return share


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--scale", type=float, default=0.01)
    parser.add_argument("--days", type=int, default=180)
    args = parser.parse_args()
    constant = brentq(lambda c: online_share(c, args.reps, args.scale, args.days) - TARGET,
                      -150.0, 50.0, xtol=0.5)
    print(f"online_constant = {constant:.1f}  # calibrated to B4 ({TARGET:.1%}) with "
          f"{args.reps} reps, scale {args.scale}, {args.days} days")


if __name__ == "__main__":
    main()
