"""The documentation tells the truth: every schema key is documented, the worked example runs."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from sim.api import run_scenario
from sim.schema import SCENARIO
from tests.conftest import ROOT, SCENARIOS

DOC = (SCENARIOS / "README.md").read_text()


def _keys(schema: dict, prefix: str = "") -> list[str]:
    keys = []
    for name, spec in schema.items():
        if spec.kind == "table" and spec.schema:
            keys += _keys(spec.schema, f"{prefix}{name}.")
        elif spec.kind == "map" and spec.schema:
            keys += _keys(spec.schema, "")
        else:
            keys.append(f"{prefix}{name}")
    return keys


def test_every_key_is_documented() -> None:
    missing = [k for k in _keys(SCENARIO) if f"`{k}`" not in DOC]
    assert not missing, f"scenarios/README.md lacks: {missing}"


def test_worked_example_runs(tmp_path: Path) -> None:
    example = re.search(r"```toml\n(.*?)```", DOC, re.S).group(1)
    shutil.copytree(SCENARIOS / "common", tmp_path / "common")
    path = tmp_path / "my-county.toml"
    path.write_text(example)
    kpis = run_scenario(path, scale=0.01, days=14).kpis
    assert kpis["requests_created"] == kpis["requests_resolved"] + kpis["requests_open"]
    assert kpis["share_resolved_by_level"]["township"] > 0


def test_readme_names_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_generated_reference_is_current() -> None:
    import subprocess
    import sys

    result = subprocess.run([sys.executable, str(ROOT / "tools" / "schema_doc.py"), "--check"])
    assert result.returncode == 0, "run: python tools/schema_doc.py (scenarios/README.md is stale)"
