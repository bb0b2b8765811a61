"""The documentation tells the truth: every schema key is documented, the worked example runs."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from sim.experiments.api import run_scenario
from sim.scenario.schema import SCENARIO
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


FACT_ID = re.compile(r"\b([A-Z]\d{1,2})\b")


def defined_fact_ids(text: str) -> set[str]:
    """Ids defined in docs/facts.md: the first cell of a table row (``| F12 | ...``)."""
    return set(re.findall(r"^\| ([A-Z]\d{1,2}) \|", text, re.M))


def cited_fact_ids(toml_text: str) -> set[str]:
    """Ids cited in a scenario file's comments (``# F12``, ``# assumed: R1``, ``(F9, M7)``)."""
    return {i for line in toml_text.splitlines() if "#" in line
            for i in FACT_ID.findall(line.split("#", 1)[1])}


def test_every_cited_fact_is_defined() -> None:
    defined = defined_fact_ids((ROOT / "docs" / "facts.md").read_text())
    assert {"F1", "F14", "M8", "E3", "J6", "R9", "W5", "B4"} <= defined
    cited = {(path.relative_to(SCENARIOS).as_posix(), i) for path in SCENARIOS.rglob("*.toml")
             for i in cited_fact_ids(path.read_text())}
    assert len({i for _, i in cited}) >= 10, "the presets cite their facts"
    undefined = sorted((f, i) for f, i in cited if i not in defined)
    assert not undefined, f"cited in scenarios/ but not defined in docs/facts.md: {undefined}"


def test_fact_check_catches_an_undefined_id() -> None:
    assert cited_fact_ids("count = 3  # F99: made up\nx = 1 # assumed: R2\ny = 'Z9' \n") == {"F99", "R2"}
    assert "F99" not in defined_fact_ids((ROOT / "docs" / "facts.md").read_text())
