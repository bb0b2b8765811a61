"""Regenerate the key and reform reference in scenarios/README.md from the code's schemas.

Usage: python tools/schema_doc.py [--check]
The text between the ``<!-- generated:start -->`` and ``<!-- generated:end -->`` markers is
replaced; ``--check`` exits 1 if the file is out of date (used by the tests).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.scenario.reforms import REFORMS  # noqa: E402
from sim.scenario.schema import REQUIRED, SCENARIO, Field, bounds_text  # noqa: E402

README = ROOT / "scenarios" / "README.md"
START, END = "<!-- generated:start -->", "<!-- generated:end -->"


def _default(spec: Field) -> str:
    if spec.default is REQUIRED:
        return "**required**"
    if spec.kind in ("table", "map") or spec.default is None:
        return ""
    text = repr(spec.default).replace("'", '"')
    return f"`{text}`"


def _allowed(spec: Field) -> str:
    return ", ".join(spec.choices) if spec.choices else bounds_text(spec)


def _rows(prefix: str, schema: dict[str, Field], nested: bool) -> list[str]:
    lines = []
    for name, spec in schema.items():
        if spec.kind in ("table", "map") and spec.schema and not nested:
            continue  # documented in a section of its own
        lines.append(f"| `{prefix}{name}` | {spec.kind} | {_default(spec)} | {_allowed(spec)} | "
                     f"{spec.help} |")
        if spec.kind == "map" and spec.schema:
            lines += _rows(f"{prefix}{name}.NAME.", spec.schema, nested)
    return lines


def _table(prefix: str, schema: dict[str, Field], nested: bool = False) -> list[str]:
    return ["", "| key | type | default | allowed | meaning |", "|---|---|---|---|---|",
            *_rows(prefix, schema, nested)]


def generate() -> str:
    out = ["### Top level", *_table("", SCENARIO)]
    for name in ("population", "simulation", "geography", "handoff"):
        out += ["", f"### `[{name}]`", *_table(f"{name}.", SCENARIO[name].schema)]
    for name, rule in SCENARIO["behaviour"].schema.items():
        out += ["", f"### `[behaviour.{name}]`", *_table(f"behaviour.{name}.", rule.schema)]
    for name, title in (("calendars", "[calendars.NAME]"), ("units", "[units.NAME]"),
                        ("requests", "[requests.NAME]")):
        out += ["", f"### `{title}`", *_table("", SCENARIO[name].schema)]
        if name == "units":
            out += ["", "### `[units.NAME.duties.NAME]`", "",
                    "A duty: work that is not a request, queued at each opening of the unit's "
                    "calendar (documents, meetings, reception, inspections).",
                    *_table("", SCENARIO["units"].schema["duties"].schema)]
    out += ["", "## Reforms", "",
            "Each `[[reforms]]` table has `name` plus the reform's parameters, applied in order "
            "(a child scenario's reforms follow its parent's)."]
    for name, reform in REFORMS.items():
        out += ["", f"### `{name}` ({reform.facts})", "", reform.summary[0].upper() + reform.summary[1:]
                + ".", *_table("", reform.params, nested=True)]
    return "\n".join(out) + "\n"


def main() -> int:
    text = README.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{START}\n{generate()}{END}{tail}"
    if "--check" in sys.argv:
        return 0 if new == text else 1
    README.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
