"""Plausible ranges of assumed numbers, read from the scenario files themselves.

A scenario file marks every number it cannot trace to a fact ``# assumed: reason``; where a
plausible range is known it follows the reason in the form ``(range LOW-HIGH)`` or
``(range LOW to HIGH)``:

```toml
[behaviour.patience]
mean_days = 10.0   # assumed: two working weeks before a resident calls to ask (range 3-30)
```

So the range sits beside the number it qualifies, and ``robust`` samples exactly what the files
say. The key is the dotted path of the number (``behaviour.patience.mean_days``; inside a
``[[reforms]]`` entry, ``reforms.NAME.key``, as sweeps address reform parameters, and in a
table of the entry, ``[reforms.modules.people]``, ``reforms.NAME.modules.people.key``). Lists and
inline tables are not sampled; their ranges stay documentation. Files are read along the
``extends`` chain, the child's line winning over its parent's for one key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sim.errors import ScenarioError
from sim.scenario.loading import read_toml

NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
LINE = re.compile(rf"^\s*([A-Za-z0-9_\-]+)\s*=\s*({NUMBER})\s*#\s*assumed:(.*)$")
RANGE = re.compile(rf"\(range\s+({NUMBER})\s*(?:-|to)\s*({NUMBER})\)")
HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\"]+)\s*\]\]?")
NAME = re.compile(r'^\s*name\s*=\s*"([^"]+)"')


@dataclass(frozen=True)
class AssumedRange:
    key: str
    value: float
    low: float
    high: float
    integer: bool
    file: str
    line: int


def extends_chain(path: str | Path) -> list[Path]:
    """The file and the files it extends, the root last."""
    chain, current = [], Path(path)
    while True:
        if current in chain:
            raise ScenarioError(str(current), "extends", "circular extends chain")
        chain.append(current)
        parent = read_toml(current).get("extends")
        if not isinstance(parent, str):
            return chain
        current = current.parent / parent


def file_ranges(path: Path) -> tuple[list[AssumedRange], int]:
    """The ranged assumed numbers of one file, and how many assumed numbers it has in all."""
    table, reform, out, assumed = "", None, [], 0
    entry = None  # the name of the [[reforms]] entry being read (its sub-tables too)
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        header = HEADER.match(text)
        if header:
            table = header.group(2).replace('"', "")
            if header.group(1) == "[[" and table == "reforms":
                reform, entry = "", None
            elif table.startswith("reforms.") and entry:  # [reforms.modules.x]: the entry's own table
                reform = f"{entry}.{table.removeprefix('reforms.')}"
            else:
                reform, entry = None, None
            continue
        name = NAME.match(text)
        if reform == "" and name:
            reform = entry = name.group(1)
        line = LINE.match(text)
        if not line:
            assumed += "# assumed" in text
            continue
        assumed += 1
        bounds = RANGE.search(line.group(3))
        if not bounds:
            continue
        low, high = float(bounds.group(1)), float(bounds.group(2))
        value = float(line.group(2))
        where = f"reforms.{reform}" if reform else table
        key = f"{where}.{line.group(1)}" if where else line.group(1)
        if not low <= value <= high:
            raise ScenarioError(str(path), key, f"line {number}: the value {value:g} is outside its "
                                f"assumed range {low:g}-{high:g}")
        integer = all(re.fullmatch(r"[-+]?\d+", s) for s in (line.group(2), bounds.group(1), bounds.group(2)))
        out.append(AssumedRange(key, value, low, high, integer, str(path), number))
    return out, assumed


def scenario_ranges(path: str | Path) -> tuple[dict[str, AssumedRange], int]:
    """Every ranged assumed number a scenario runs with (along its extends chain), and the count
    of assumed numbers in those files, ranged or not (the coverage a study should state)."""
    ranges: dict[str, AssumedRange] = {}
    total = 0
    for file in reversed(extends_chain(path)):
        found, assumed = file_ranges(file)
        total += assumed
        for item in found:
            ranges[item.key] = item
    return ranges, total
