"""Shared fixtures: a tiny valid scenario (written to a temp folder) and a CLI runner."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"

TINY = """
name = "tiny"

[population]
residents = 2000
firms = 200
above_scale_share = 0.05
upper_divisions = 3

[simulation]
days = 10
warmup_days = 0

[handoff]
delay_hours = 2.0
misroute_share = 0.1

[units.grid]
level = "grid"
count = 4
staff = 1
calendar = "always"
knowledge = 0.5
functions = ["incident"]

[units.centre]
level = "community"
count = 2
staff = 2
knowledge = 1.0
functions = ["incident", "certificate"]

[units.section]
level = "department"
staff = 2
knowledge = 2.0
functions = ["certificate", "permit"]

[units.other_section]
level = "department"
staff = 1
knowledge = 2.0
functions = ["upper"]

[units.leadership]
level = "leadership"
staff = 1
knowledge = inf
functions = ["*"]

[requests.certificate]
category = "personal"
origin = "resident"
rate_per_year = 2.0
complexity = 0.5
service_minutes = 15.0
in_person = true
authority = ["community", "department"]
steps = ["certificate"]
arrival_calendar = "office"
high_frequency = true

[requests.incident]
category = "incident"
origin = "grid_worker"
rate_per_year = 300.0
complexity = 0.5
service_minutes = 20.0
authority = ["grid", "community", "department", "leadership"]
steps = ["incident"]
sla_hours = 24.0

[requests.permit]
category = "firm"
origin = "firm"
rate_per_year = 2.0
complexity = 1.0
service_minutes = 30.0
in_person = true
authority = ["department", "leadership"]
steps = ["permit", "permit"]
lead_days = [1.0, 2.0]
arrival_calendar = "office"

[requests.task]
category = "upper"
origin = "upper_division"
rate_per_year = 50.0
complexity = 1.0
service_minutes = 60.0
authority = ["department", "leadership"]
function_shares = { upper = 1.0 }
"""


@pytest.fixture
def tiny_path(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``run.py`` as a user would, in a subprocess."""
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=600)
