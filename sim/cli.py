"""Command line: ``run`` one scenario, ``compare`` several side by side.

Bad input of any kind ends in one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, NoReturn

from sim.errors import ScenarioError

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (argparse's default prints usage on a second line)."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"error: {self.prog}: {message} (see --help)\n")
        raise SystemExit(EXIT_BAD_INPUT)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, help="random seed (default: the scenario's)")
    parser.add_argument("--scale", type=float,
                        help="share of residents and firms created as agents, (0, 1] (default: scenario's)")
    parser.add_argument("--days", type=int, help="days to simulate (default: the scenario's)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="run.py", description="City-governance simulator (township vs flat designs).")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="simulate one scenario, print KPIs, write results",
                         description="Simulate one scenario; print its KPI table and write "
                         "requests.parquet, kpis.json and metadata.json into --out.")
    run.add_argument("scenario", help="scenario TOML file")
    _common(run)
    run.add_argument("--out", help="output folder (default: results/<scenario name>)")
    compare = sub.add_parser("compare", help="simulate several scenarios, print KPIs side by side",
                             description="Simulate scenarios with the same seed, scale and days and "
                             "print their KPIs side by side; with --out, write each run's files "
                             "and comparison.csv.")
    compare.add_argument("scenarios", nargs="+", help="scenario TOML files")
    _common(compare)
    compare.add_argument("--out", help="output folder (one subfolder per scenario)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        return _compare(args)
    except ScenarioError as exc:
        sys.stderr.write(exc.one_line() + "\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        sys.stderr.write("interrupted; files already written are complete\n")
        return 130


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    return {"seed": args.seed, "scale": args.scale, "days": args.days}


def _check_out(out: str) -> Path:
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ScenarioError(out, "--out", "exists and is not a folder; give a folder path")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ScenarioError(out, "--out", f"cannot create folder ({exc.strerror})") from None
    return path


def _run(args: argparse.Namespace) -> int:
    from sim.api import run_scenario, write_run
    from sim.report import kpi_rows, render_table

    result = run_scenario(args.scenario, **_settings(args))
    out = _check_out(args.out or f"results/{result.metadata['scenario']}")
    write_run(result, out)
    print(render_table(["KPI", result.metadata["scenario"]], kpi_rows([result.kpis])))
    print(f"\nwrote {out}/requests.parquet, kpis.json, metadata.json "
          f"({result.metadata['wall_seconds']:.1f} s)")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from sim.api import run_scenario, write_run
    from sim.report import kpi_rows, render_table, write_comparison_csv
    from sim.scenario import load_scenario

    for path in args.scenarios:  # validate all before running any
        load_scenario(path)
    out = _check_out(args.out) if args.out else None
    results = []
    for path in args.scenarios:
        result = run_scenario(path, **_settings(args))
        results.append(result)
        if out is not None:
            write_run(result, out / result.metadata["scenario"])
        print(f"ran {result.metadata['scenario']} in {result.metadata['wall_seconds']:.1f} s",
              file=sys.stderr)
    names = [r.metadata["scenario"] for r in results]
    rows = kpi_rows([r.kpis for r in results])
    print(render_table(["KPI", *names], rows))
    if out is not None:
        write_comparison_csv(out / "comparison.csv", names, rows)
        print(f"\nwrote {out}/comparison.csv and one folder per scenario")
    return 0
