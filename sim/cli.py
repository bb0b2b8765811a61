"""Command line: ``run`` one scenario, ``compare`` several side by side.

Bad input of any kind ends in one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
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


def _set_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a scenario key (TOML value), e.g. --set handoff.delay_hours=4 "
                        "or --set reforms.platform.delay_hours=0.5; repeatable")


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """``--set`` pairs (values read as TOML, else as text) plus --seed, --scale and --days."""
    from sim.scenario.overrides import parse_assignment

    out = dict(parse_assignment(item, "command line", "--set") for item in args.set)
    settings = {f"simulation.{k}": v for k, v in _settings(args).items() if v is not None}
    return {**out, **settings}


def _replicated(parser: argparse.ArgumentParser, reps: int, out: str) -> None:
    """Options of the commands that run replications on a pool of workers."""
    parser.add_argument("--reps", type=int, default=reps, help=f"replications (default {reps})")
    parser.add_argument("--scale", type=float, default=0.01,
                        help="agent sample share; demand is always full-size (default 0.01)")
    parser.add_argument("--days", type=int, help="days to simulate (default: the scenarios')")
    parser.add_argument("--workers", type=int, help="processes (default: cores)")
    parser.add_argument("--out", default=out, help=f"output folder (default {out})")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="run.py", description="City-governance simulator (township vs flat designs).")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="simulate one scenario, print KPIs, write results",
                         description="Simulate one scenario; print its KPI table and write "
                         "requests.parquet, kpis.json and metadata.json into --out.")
    run.add_argument("scenario", help="scenario TOML file")
    _common(run)
    _set_option(run)
    run.add_argument("--out", help="output folder (default: results/<scenario name>)")
    show = sub.add_parser("show", help="print the scenario as it will run (extends, overrides, reforms)",
                          description="Print the final, fully resolved scenario: the extends chain "
                          "merged, --set overrides applied, defaults filled and every reform applied, "
                          "as TOML (or JSON). What this prints is what `run` simulates.")
    show.add_argument("scenario", help="scenario TOML file")
    _common(show)
    _set_option(show)
    show.add_argument("--json", action="store_true", help="print JSON instead of TOML")
    compare = sub.add_parser("compare", help="run scenarios side by side; KPI table, figures, HTML report",
                             description="Run the scenarios through the batch machinery (same seeds "
                             "for replication r of every scenario), print the KPIs side by side with "
                             "95 %% CIs, and write figures (PNG, SVG) and report.html into --out.")
    compare.add_argument("scenarios", nargs="+", help="scenario TOML files")
    compare.add_argument("--seed", type=int, default=1, help="batch seed (default 1)")
    _replicated(compare, reps=3, out="results/compare")
    compare.add_argument("--resume", action="store_true", help="reuse finished runs in --out")

    plot = sub.add_parser("plot", help="re-render figures and report.html from a saved batch",
                          description="Re-render every figure and report.html from a batch folder "
                          "(written by compare or batch) without running anything.")
    plot.add_argument("folder", help="batch folder")

    validate = sub.add_parser("validate", help="run the presets with replications, compare with the facts",
                              description="Run township, staff-cut-only, longgang-2019 and "
                              "longgang-2021 with replications; print each fact check (reported "
                              "value, simulated mean with 95 % CI, tolerance, pass/fail) and write "
                              "validation.csv. Exit 1 if a check fails.")
    _replicated(validate, reps=3, out="results/validate")
    validate.add_argument("--scenarios", default="scenarios", help="folder with the presets")
    validate.add_argument("--staffing", action="store_true",
                          help="also predict F6 from the staff each design needs (run.py staff on township "
                          "and longgang-2021, same targets) and run the fair control; a few minutes more")
    validate.add_argument("--targets", help="targets file for --staffing (default "
                          "scenarios/targets/default.toml)")

    attribute = sub.add_parser("attribute", help="each reform's contribution from BASE to TARGET",
                               description="TARGET must be BASE plus reforms. Reports each reform's "
                               "contribution to the main KPIs: added in order, in reverse order, and "
                               "the Shapley value over all orderings: exact for up to 8 reforms, "
                               "sampled over antithetic pairs of orderings with a 95 % interval "
                               "beyond that or with --orderings.")
    attribute.add_argument("base", help="base scenario file")
    attribute.add_argument("target", help="target scenario file (BASE plus reforms)")
    _replicated(attribute, reps=2, out="results/attribute")
    attribute.add_argument("--orderings", type=int,
                           help="sample this many orderings for Shapley values (rounded up to even; "
                           "default: exact up to 8 reforms, 24 sampled beyond)")
    attribute.add_argument("--seed", type=int, default=0, help="seed of the sampled orderings (default 0)")

    batch = sub.add_parser("batch", help="replications x sweep points x scenarios, in parallel, resumable",
                           description="Run every scenario for every sweep point and replication on "
                           "a local process pool (--workers) or a Dask cluster (--scheduler). Each "
                           "finished run is written at once; --resume skips completed runs.")
    batch.add_argument("scenarios", nargs="+", help="scenario TOML files")
    batch.add_argument("--reps", type=int, default=5, help="replications per point (default 5)")
    batch.add_argument("--sweep", help="sweep TOML file (see sim/experiments/sweep.py and the README)")
    where = batch.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, help="local processes (default: cores; 1 = this process)")
    where.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://10.0.0.5:8786")
    batch.add_argument("--seed", type=int, default=1, help="batch seed (default 1)")
    batch.add_argument("--scale", type=float, help="agent sample share (default: the scenario's)")
    batch.add_argument("--days", type=int, help="days per run (default: the scenario's)")
    batch.add_argument("--out", required=True, help="batch folder")
    batch.add_argument("--resume", action="store_true", help="finish an interrupted batch in --out")
    batch.add_argument("--keep-requests", action="store_true", help="also write each run's request log")
    batch.add_argument("--independent-seeds", action="store_true",
                       help="seed each scenario separately (default: common seeds across scenarios)")
    batch.add_argument("--in-flight", type=int, help=argparse.SUPPRESS)
    batch.add_argument("--max-runs", type=int, default=10_000,
                       help="refuse a batch of more runs than this (default 10,000)")

    sens = sub.add_parser("sensitivity", help="Sobol indices of KPIs over a sweep's parameter ranges",
                          description="First-order and total Sobol indices with bootstrap 95 %% CIs for "
                          "the KPIs named in the sweep file's `outputs`, over the `range` of each "
                          "parameter, for the sweep file's `scenario`.")
    sens.add_argument("sweep", help="sweep TOML file with scenario, outputs and parameter ranges")
    sens.add_argument("--n", type=int, default=64, help="base sample size, a power of two (default 64)")
    sens.add_argument("--seed", type=int, default=1, help="model seed (common to all runs) and sampling seed")
    sens.add_argument("--days", type=int, help="days per run (default: the scenario's)")
    sens.add_argument("--scale", type=float, help="agent sample share (default: the scenario's)")
    sens.add_argument("--workers", type=int, help="local processes (default: cores)")
    sens.add_argument("--out", default="results/sensitivity", help="output folder")
    sens.add_argument("--max-runs", type=int, default=10_000,
                      help="refuse a study of more runs than this (default 10,000)")

    calibrate = sub.add_parser("calibrate", help="fit named parameters to named targets",
                               description="Fit the parameters of a calibration file to its targets "
                               "(common random numbers; bounded Brent for one parameter, Nelder-Mead "
                               "for several) and write the calibration file a scenario loads with "
                               "calibration = \"FILE\".")
    calibrate.add_argument("config", help="calibration TOML file (parameters, targets, output)")
    calibrate.add_argument("--workers", type=int, help="local processes (default: cores)")

    robust = sub.add_parser("robust", help="do the conclusions hold across the assumed ranges?",
                            description="Sample every assumed number that has a '(range LOW-HIGH)' in "
                            "the scenario files (Latin hypercube), run every scenario on each sample "
                            "(one common seed per sample, resumable), and report for each conclusion "
                            "of --conclusions the share of samples where it holds, the PRIM box of "
                            "assumptions where it fails, and first-order Sobol indices.")
    robust.add_argument("scenarios", nargs="+", help="scenario TOML files the conclusions compare")
    robust.add_argument("--conclusions", default="scenarios/conclusions/default.toml",
                        help="conclusions file (default scenarios/conclusions/default.toml)")
    robust.add_argument("--n", type=int, default=64, help="samples (default 64)")
    robust.add_argument("--seed", type=int, default=1, help="sampling and model seed (default 1)")
    robust.add_argument("--scale", type=float, default=0.01, help="agent sample share (default 0.01)")
    robust.add_argument("--days", type=int, help="days per run (default: the scenarios')")
    robust.add_argument("--workers", type=int, help="local processes (default: cores)")
    robust.add_argument("--scheduler", help="Dask scheduler address (instead of local processes)")
    robust.add_argument("--resume", action="store_true", help="complete an interrupted study in --out")
    robust.add_argument("--out", default="results/robust", help="output folder (default results/robust)")
    robust.add_argument("--max-runs", type=int, default=100_000,
                        help="refuse a study of more runs than this (default 100,000)")

    staff = sub.add_parser("staff", help="smallest headcount per unit kind meeting service targets",
                           description="Find the smallest staff per unit kind meeting the service "
                           "targets of a targets file: an Erlang C start from one pilot run, then greedy "
                           "allocation by simulation on common seeds with replications. Writes "
                           "staffing.csv, staffing.json, staffing.png and staffed.toml into --out.")
    staff.add_argument("scenario", help="scenario TOML file")
    staff.add_argument("--targets", help="targets TOML file (default scenarios/targets/default.toml)")
    staff.add_argument("--reps", type=int, default=3, help="replications per candidate (default 3)")
    staff.add_argument("--scale", type=float, default=0.01,
                       help="agent sample share; demand is always full-size (default 0.01)")
    staff.add_argument("--days", type=int, help="days to simulate (default: the scenario's)")
    staff.add_argument("--seed", type=int, default=1, help="seed of the replications (default 1)")
    staff.add_argument("--workers", type=int, help="processes (default: cores)")
    staff.add_argument("--out", help="output folder (default results/staffing/<scenario name>)")
    staff.add_argument("--units", help="comma-separated unit kinds to optimise (default: all but grid "
                       "and social ones)")
    staff.add_argument("--max-runs", type=int, default=5_000,
                       help="simulations allowed in all (default 5,000)")
    place = sub.add_parser("place", help="choose sites for a unit kind's offices on the map",
                           description="Choose where COUNT offices (or a one-unit team's stations) of a unit "
                           "kind stand, among the centres of one level's areas: p-median (least mean "
                           "travel) or maximal covering (most residents within --radius minutes), solved "
                           "exactly with scipy.optimize.milp. Writes sites.csv, catchments.csv, "
                           "placement.json and placed.toml (the scenario using the sites) into --out.")
    place.add_argument("scenario", help="scenario TOML file (put on the map if it is on the line)")
    place.add_argument("--unit", required=True, help="unit kind to place")
    place.add_argument("--count", type=int, required=True, help="number of sites")
    place.add_argument("--objective", choices=("time", "coverage"), default="time",
                       help="time: least mean travel (p-median); coverage: most within --radius")
    place.add_argument("--radius", type=float, help="coverage radius in minutes (default: the "
                       "scenario's geography.circle_minutes)")
    place.add_argument("--candidates", default="community", help="level whose area centres are the "
                       "candidate sites (default community)")
    place.add_argument("--out", help="output folder (default results/place/<scenario>-<unit>)")
    place.add_argument("--write-scenario", help="scenario file to write (default OUT/placed.toml)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _check_flags(args)
        commands = {"run": _run, "compare": _compare, "validate": _validate, "attribute": _attribute,
                    "calibrate": _calibrate, "robust": _robust, "batch": _batch, "sensitivity": _sensitivity,
                    "plot": _plot, "show": _show, "staff": _staff, "place": _place}
        return commands[args.command](args)
    except ScenarioError as exc:
        sys.stderr.write(exc.one_line() + "\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        sys.stderr.write("interrupted; files already written are complete\n")
        return 130


def end_process(code: int | None) -> None:
    """End the command-line process with ``code`` once everything is written and flushed,
    without Python's teardown. Why: tearing down frees every object one by one, 576,000 agents
    and their dicts after a full-city run, 0.4 s of a 3.5 s year that nobody waits for on
    purpose. Every file is complete by now (written atomically, pools and threads joined by
    their ``with`` blocks); only the streams may hold buffered text, so they are flushed."""
    if "logging" in sys.modules:
        sys.modules["logging"].shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (``| head``): nothing to add
            stream.flush()
    os._exit(code or 0)


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    return {"seed": args.seed, "scale": args.scale, "days": args.days}


def _check_out(out: str) -> Path:
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ScenarioError(out, "--out", "exists and is not a folder; give a folder path")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"")  # a read-only folder or file system fails here, before any run
        probe.unlink()
    except OSError as exc:
        raise ScenarioError(out, "--out", f"cannot write there ({exc.strerror or exc})") from None
    return path


def _run(args: argparse.Namespace) -> int:
    from sim.experiments.api import run_scenario
    from sim.outputs.files import safe_slug
    from sim.report.tables import kpi_rows, render_table
    from sim.scenario.loading import load_scenario

    config = load_scenario(args.scenario, _overrides(args))
    out = _check_out(args.out or f"results/{safe_slug(config['name'])}")
    collecting = gc.isenabled()
    gc.disable()  # one run keeps its objects to the end (no cyclic garbage worth finding), and a
    # full city's 576,000 agents cost every pass of the collector over them: 0.1 s of a 3 s year
    try:
        result = run_scenario(config, out=out)  # (the request log is written while KPIs are computed)
    except OSError as exc:
        raise ScenarioError(str(out), "--out", f"cannot write the results ({exc.strerror or exc})") from None
    finally:
        if collecting:
            gc.enable()
    print(render_table(["KPI", result.metadata["scenario"]], kpi_rows([result.kpis])))
    print(f"\nwrote {out}/requests.parquet, kpis.json, metadata.json "
          f"({result.metadata['wall_seconds']:.1f} s)")
    return 0


def _show(args: argparse.Namespace) -> int:
    import json

    from sim.scenario.loading import load_scenario
    from sim.scenario.toml_writer import dumps

    config = load_scenario(args.scenario, _overrides(args))
    source = config.pop("source")
    if args.json:
        def text_inf(value: Any) -> Any:  # JSON has no inf: knowledge = inf prints as "inf"
            if isinstance(value, dict):
                return {k: text_inf(v) for k, v in value.items()}
            if isinstance(value, list):
                return [text_inf(v) for v in value]
            return str(value) if isinstance(value, float) and abs(value) == float("inf") else value

        print(json.dumps(text_inf({**config, "source": source}), indent=2, allow_nan=False))
    else:  # the reforms are already applied, so they are listed as comments, not as [[reforms]]
        reforms = config.pop("reforms")
        calibration = config.pop("calibration", None)  # its values are in; a reload must not re-apply them
        print(f"# {config['name']}: resolved from {source['path']} (scenario hash {source['hash'][:12]})")
        if calibration:
            print(f"# calibrated values from {calibration} are written in")
        print("# extends merged, overrides set, defaults filled and these reforms applied, in order:")
        for i, reform in enumerate(reforms):
            params = ", ".join(f"{k} = {v!r}" for k, v in reform.items() if k != "name" and v is not None)
            print(f"#   reforms[{i}] {reform['name']}" + (f": {params}" if params else ""))
        print("# This file runs as it stands (python run.py run FILE) and gives the same structure.\n")
        print(dumps(config))
    return 0


def _compare(args: argparse.Namespace) -> int:
    from sim.experiments.batch import batch_identity, plan_batch, run_batch
    from sim.experiments.executors import executor_for
    from sim.scenario.loading import load_scenario

    settings = {"simulation.scale": args.scale,
                **({"simulation.days": args.days} if args.days is not None else {})}
    for path in args.scenarios:  # validate all before running any
        load_scenario(path, settings)
    specs = plan_batch(args.scenarios, args.reps, [{}], args.seed, args.scale, args.days)
    identity = batch_identity(args.scenarios, specs, [{}], args.reps, args.seed, args.scale, args.days,
                              None, True)
    out = Path(args.out)
    with executor_for(args.workers) as executor:
        summary = run_batch(specs, out, executor, identity, resume=args.resume,
                            in_flight=2 * (args.workers or os.cpu_count() or 1) + 2)
    if summary["failed"]:
        sys.stderr.write(f"warning: {summary['failed']} runs failed; see {out}/runs.parquet\n")
    return _render(out, print_table=True)


def _plot(args: argparse.Namespace) -> int:
    return _render(Path(args.folder), print_table=False)


def _render(folder: Path, print_table: bool) -> int:
    from sim.report.figure_data import BatchData
    from sim.report.figures import render_all
    from sim.report.html import KPI_ROWS, build_report, kpi_table
    from sim.report.tables import render_table

    data = BatchData.load(folder)
    for line in data.skipped:
        sys.stderr.write(f"warning: {folder}: {line}\n")
    if (folder / "figures").exists() and not (folder / "figures").is_dir():
        raise ScenarioError(str(folder / "figures"), "", "is a file; the figures need a folder there "
                            "(move or delete the file)")
    if print_table:
        formats = {label: fmt for label, fmt, _ in KPI_ROWS}
        rows = [(label, [_cell(formats[label], c) for c in cells]) for label, cells in kpi_table(data)]
        print(render_table(["KPI (mean [95 % CI])", *data.scenarios], rows))
    figures = render_all(data, folder / "figures")
    report = build_report(data, figures, folder)
    print(f"\nfigures: {folder}/figures/ (PNG and SVG)\nreport:  {report.resolve()}")
    return 0


def _cell(fmt: str, cell: tuple[float, float, float] | None) -> str:
    import math

    if cell is None:
        return "-"
    mean, low, high = cell
    text = fmt.format(mean)
    return text if math.isnan(low) or high <= low else f"{text} [{fmt.format(low)}, {fmt.format(high)}]"


def _progress(done: int, total: int) -> None:
    sys.stderr.write(f"\r  runs {done}/{total}")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


FLAG_RANGES = {  # option: (lowest, highest); why: a flag past these is a typo, not a study
    "seed": (0, 2**63 - 1), "days": (1, 3_650), "reps": (1, 10_000), "workers": (1, 1_024),
    "in_flight": (1, 100_000), "n": (1, 2**20), "max_runs": (1, 10_000_000), "orderings": (2, 100_000),
}


def _check_flags(args: argparse.Namespace) -> None:
    """Every option is checked before any work starts, so a typo costs nothing."""
    import math

    for name, (low, high) in FLAG_RANGES.items():
        value = getattr(args, name, None)
        if value is not None and not low <= value <= high:
            raise ScenarioError("command line", f"--{name.replace('_', '-')}",
                                f"must be an integer from {low:,} to {high:,} (got {value})")
    scale = getattr(args, "scale", None)
    if scale is not None and not (math.isfinite(scale) and 0 < scale <= 1):
        raise ScenarioError("command line", "--scale", f"must be a number > 0 and <= 1 (got {scale})")
    n = getattr(args, "n", None)
    if n is not None and getattr(args, "command", None) == "sensitivity" and n & (n - 1):
        raise ScenarioError("command line", "--n", f"must be a power of two (got {n})")
    scheduler = getattr(args, "scheduler", None)
    if scheduler is not None:  # the executors' own rule, so the CLI and the API agree
        from sim.experiments.executors import check_scheduler

        check_scheduler(scheduler)
    for option in ("out", "folder"):
        if getattr(args, option, None) is not None:
            _check_writable(getattr(args, option), f"--{option}" if option == "out" else "DIR",
                            must_exist=option == "folder")


def _check_writable(out: str, option: str, must_exist: bool = False) -> None:
    """The folder (or the nearest folder above it that exists) must be a writable folder."""
    path = Path(out)
    if "\0" in out:
        raise ScenarioError("command line", option, "must not contain a NUL character")
    if path.exists() and not path.is_dir():
        raise ScenarioError(out, option, "exists and is not a folder; give a folder path")
    if must_exist and not path.is_dir():
        raise ScenarioError(out, option, "no such folder")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ScenarioError(out, option, f"{existing} is a file, so the folder cannot be created")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ScenarioError(out, option, f"{existing} is not writable")


def _check_runs(count: int, args: argparse.Namespace) -> None:
    if count > args.max_runs:
        raise ScenarioError("command line", "--max-runs", f"this would start {count:,} runs; at most "
                            f"{args.max_runs:,} (raise --max-runs if you mean it)")


def _validate(args: argparse.Namespace) -> int:
    from sim.experiments.validation import KINDS, PRESETS, run_validation, write_validation_csv
    from sim.report.tables import render_table

    folder = Path(args.scenarios)
    for preset in PRESETS:  # one-line errors before anything runs
        from sim.scenario.loading import load_scenario

        load_scenario(folder / f"{preset}.toml", {"simulation.scale": args.scale})
    out = _check_out(args.out)
    rows = run_validation(folder, args.reps, args.scale, args.days, args.workers, _progress)
    if args.staffing:
        rows += _staffing_claim(args, folder, out)
    table = [(f"{r['fact']:<6} {r['check']}", [r["kind"], r["reported"], _ci(r), r["tolerance"],
                                                r["verdict"]]) for r in rows]
    print(render_table(["fact  check", "kind", "reported", "simulated (95 % CI)", "tolerance", "result"],
                       table))
    write_validation_csv(out / "validation.csv", rows)
    passed = sum(r["verdict"] == "pass" for r in rows)
    unsure = sum(r["verdict"] == "unsure" for r in rows)
    by_kind = "; ".join(f"{kind} {sum(r['verdict'] == 'pass' for r in rows if r['kind'] == kind)}/"
                        f"{sum(r['kind'] == kind for r in rows)}" for kind in KINDS)
    print(f"\n{passed}/{len(rows)} checks pass ({by_kind}; {args.reps} replications)"
          + (f"; {unsure} unsure: the 95 % interval straddles the tolerance (more --reps decide)" if unsure
             else "") + f"; wrote {out}/validation.csv")
    return 0 if passed == len(rows) else 1


def _staffing_claim(args: argparse.Namespace, folder: Path, out: Path) -> list[dict[str, Any]]:
    """``validate --staffing``: the central claim's rows; writes claim.json and fair-control.toml."""
    from sim.experiments.central_claim import central_claim
    from sim.experiments.executors import executor_for
    from sim.experiments.validation import claim_rows
    from sim.outputs.files import atomic_write_bytes, write_json
    from sim.scenario.toml_writer import dumps

    def say(message: str) -> None:
        sys.stderr.write(f"validate: {message}\n")
        sys.stderr.flush()

    with executor_for(args.workers) as executor:
        claim = central_claim(folder, args.targets, args.reps, 1, args.scale, args.days, executor, 5_000, say)
    scenario = claim.pop("fair_scenario")
    write_json(out / "claim.json", claim)
    header = f"# The fair control, generated by `run.py validate --staffing`: {scenario['description']}\n"
    atomic_write_bytes(out / "fair-control.toml", (header + dumps(scenario)).encode())
    return claim_rows(claim)


def _ci(row: dict[str, Any]) -> str:
    import math

    mean, low, high = row["simulated_mean"], row["ci95_low"], row["ci95_high"]
    if math.isnan(low):
        return f"{mean:.4g}"
    return f"{mean:.4g} [{low:.4g}, {high:.4g}]"


def _attribute(args: argparse.Namespace) -> int:
    from sim.experiments.attribution import MAX_SHAPLEY_REFORMS, attribute, write_attribution_csv
    from sim.report.tables import render_table
    from sim.scenario.loading import load_scenario

    base, target = load_scenario(args.base), load_scenario(args.target)
    out = _check_out(args.out)
    rows = attribute(args.base, args.target, args.reps, args.scale, args.days, args.workers, _progress,
                     orderings=args.orderings, seed=args.seed)
    sampled = bool(rows) and rows[0]["shapley_method"] != "exact"
    for metric in dict.fromkeys(r["metric"] for r in rows):
        table = [(r["reform"], [r["in_order"], r["reverse"], r["shapley"]]
                  + ([r["shapley_ci95"]] if sampled else []))
                 for r in rows if r["metric"] == metric]
        print(f"\n{metric}")
        print(render_table(["reform", "in order", "reverse", "Shapley"] + (["± 95 %"] if sampled else []),
                           table))
    if sampled:
        print(f"\nShapley values {rows[0]['shapley_method']}, seed {args.seed}; exact needs at most "
              f"{MAX_SHAPLEY_REFORMS} reforms. The intervals cover the sampling of orderings.")
    path = out / f"{base['name']}-{target['name']}.csv"
    write_attribution_csv(path, rows)
    print(f"\nwrote {path}")
    return 0


def _batch(args: argparse.Namespace) -> int:
    from sim.experiments.batch import batch_identity, plan_batch, run_batch
    from sim.experiments.executors import executor_for
    from sim.experiments.sweep import check_points, load_sweep
    from sim.scenario.loading import load_scenario

    settings = (("scale", args.scale), ("days", args.days))
    overrides = {f"simulation.{k}": v for k, v in settings if v is not None}
    for path in args.scenarios:
        load_scenario(path, overrides)
    points = load_sweep(args.sweep, args.seed).points if args.sweep else [{}]
    _check_runs(len(points) * args.reps * len(args.scenarios), args)
    if args.sweep:
        check_points(args.sweep, args.scenarios, points)
    specs = plan_batch(args.scenarios, args.reps, points, args.seed, args.scale, args.days,
                       args.keep_requests, common_seeds=not args.independent_seeds)
    identity = batch_identity(args.scenarios, specs, points, args.reps, args.seed, args.scale, args.days,
                              args.sweep, not args.independent_seeds)
    out = Path(args.out)
    in_flight = args.in_flight or 2 * (args.workers or os.cpu_count() or 1) + 2
    with executor_for(args.workers, args.scheduler) as executor:
        summary = run_batch(specs, out, executor, identity, resume=args.resume, in_flight=in_flight)
    print(f"{summary['ok']}/{summary['total']} runs ok, {summary['failed']} failed "
          f"({summary['skipped']} already done); wrote {out}/runs.parquet, summary.csv, metadata.json")
    return 0 if summary["failed"] == 0 else 1


def _sensitivity(args: argparse.Namespace) -> int:
    from sim.experiments.executors import executor_for
    from sim.experiments.sensitivity import model_function, sobol_analysis, table_rows
    from sim.experiments.sweep import check_points, corner_points, load_sweep
    from sim.outputs.files import write_json
    from sim.report.tables import render_table
    from sim.scenario.loading import load_scenario

    sweep = load_sweep(args.sweep, args.seed, sensitivity=True)
    if not sweep.scenario or not sweep.outputs:
        raise ScenarioError(args.sweep, "scenario" if not sweep.scenario else "outputs",
                            "is required for the sensitivity command")
    load_scenario(sweep.scenario)
    _check_runs(args.n * (len(sweep.names) + 2), args)
    check_points(args.sweep, [sweep.scenario], corner_points(sweep))
    names = sweep.names
    integer = [sweep.integer[n] for n in names]
    out = _check_out(args.out)
    with executor_for(args.workers) as executor:
        func = model_function(sweep.scenario, names, integer, sweep.outputs, args.seed, executor,
                              args.days, args.scale, _progress)
        result = sobol_analysis(func, [sweep.ranges[n] for n in names], args.n, seed=args.seed)
    rows = table_rows(result, names, sweep.outputs)
    table = [(f"{r['output']} / {r['parameter']}",
              [r["first_order"], f"[{r['first_low']:.3f}, {r['first_high']:.3f}]",
               r["total_order"], f"[{r['total_low']:.3f}, {r['total_high']:.3f}]"]) for r in rows]
    print(render_table(["output / parameter", "S1", "S1 95 % CI", "ST", "ST 95 % CI"], table))
    import pandas as pd

    from sim.outputs.files import atomic_write_bytes

    atomic_write_bytes(out / "sobol.csv", pd.DataFrame(rows).to_csv(index=False).encode())
    write_json(out / "metadata.json", {"sweep": args.sweep, "scenario": sweep.scenario, "n": args.n,
                                       "seed": args.seed, "runs": args.n * (len(names) + 2),
                                       "outputs": sweep.outputs, "parameters": names})
    print(f"\nwrote {out}/sobol.csv")
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from sim.experiments.calibration import fit, load_calibration, write_calibration
    from sim.experiments.executors import executor_for
    from sim.scenario.loading import load_scenario

    cal = load_calibration(args.config)
    load_scenario(cal.scenario, {name: (low + high) / 2 for name, (low, high) in zip(cal.names, cal.bounds,
                                                                                      strict=True)})
    _check_writable(str(cal.output.parent), "output")
    with executor_for(args.workers) as executor:
        result = fit(cal, executor, log=lambda line: print(line, flush=True))
    path = write_calibration(cal, result)
    for name, value in result["values"].items():
        print(f"{name} = {value:.6g}")
    for name, spec in cal.targets.items():
        print(f"  {name}: target {spec['value']:.6g} ({spec['fact'] or 'no fact id'}), fitted "
              f"{result['kpis'][name]:.6g}")
    print(f"loss {result['loss']:.3g} after {result['trials']} trials; wrote {path}")
    return 0


def _robust(args: argparse.Namespace) -> int:
    from sim.experiments.executors import executor_for
    from sim.experiments.robustness import load_conclusions, run_study
    from sim.report.tables import render_table
    from sim.scenario.loading import load_scenario

    names = [load_scenario(path, {"simulation.scale": args.scale})["name"] for path in args.scenarios]
    load_conclusions(args.conclusions, names)  # one-line errors before the folder is made
    _check_runs(args.n * len(args.scenarios), args)
    out = _check_out(args.out)
    with executor_for(args.workers, args.scheduler) as executor:
        result = run_study(args.scenarios, args.conclusions, args.n, args.seed, args.scale, args.days, out,
                           executor, resume=args.resume)
    study = result["study"]
    ranged = ", ".join(f"{Path(p).stem} {study['ranged'][p]} of {study['assumed_numbers'][p]}"
                       for p in args.scenarios)
    print(f"\n{study['complete_samples']} of {args.n} samples complete; assumed numbers with a range "
          f"(sampled) per scenario: {ranged}")
    if study["failed_runs"]:
        first = study["failed_runs"][0]
        print(f"{len(study['failed_runs'])} runs failed (left out; study.json lists them); first: "
              f"{first['run_id']}: {first['error']}")
    table = [(r["conclusion"], [f"{r['holds_share']:.0%}", f"[{r['ci95_low']:.0%}, {r['ci95_high']:.0%}]",
                                r["fails_when"] or "-"]) for r in result["tables"]["conclusions"]]
    print(render_table(["conclusion", "holds", "95 % CI", "fails mostly when (PRIM)"], table))
    print(f"\nwrote {out}/robust.csv, prim.csv, sobol_given_data.csv, study.json")
    return 0


def _staff(args: argparse.Namespace) -> int:
    from sim.experiments.executors import executor_for
    from sim.experiments.staffing import check_scope, optimise
    from sim.experiments.staffing_outputs import totals, unit_rows, write_outputs
    from sim.experiments.staffing_targets import load_targets
    from sim.outputs.files import safe_slug
    from sim.report.staffing_figure import write_staffing_figure
    from sim.report.tables import render_table
    from sim.scenario.loading import load_scenario

    settings = {"simulation.scale": args.scale,
                **({"simulation.days": args.days} if args.days is not None else {})}
    config = load_scenario(args.scenario, settings)
    base = load_scenario(args.scenario)  # staffed.toml keeps the file's own simulation settings
    units = [u.strip() for u in args.units.split(",") if u.strip()] if args.units is not None else None
    scope = check_scope(config, units)
    default_targets = Path(__file__).resolve().parents[1] / "scenarios" / "targets" / "default.toml"
    targets = load_targets(args.targets or default_targets, config, scope)
    out = _check_out(args.out or f"results/staffing/{safe_slug(config['name'])}")

    def say(message: str) -> None:
        sys.stderr.write(f"staff: {message}\n")
        sys.stderr.flush()

    with executor_for(args.workers) as executor:
        result = optimise(config, targets, scope, executor, args.reps, args.seed, args.scale, args.days,
                          args.max_runs, say)
    rows, total = unit_rows(result), totals(result)
    table = [(r["unit"], [r["instances"], r["staff_current"], r["staff_required"], r["total_current"],
                          r["total_required"],
                          _two(r["utilisation_current"], r["utilisation_required"], "{:.2f}"),
                          _two(r["hours_worked_current"], r["hours_worked_required"], "{:.1f}"),
                          r["binding_target"]]) for r in rows]
    table.append(("total in scope", ["", "", "", int(total["scope_staff_current"]),
                                     int(total["scope_staff_required"]), "", "", ""]))
    print(render_table(["unit kind", "instances", "staff/unit now", "required", "total now", "total required",
                        "utilisation now -> req.", "hours/week now -> req.", "binding target"], table))
    print(f"\ngovernment staff (no grid, no social): {total['staff_government_current']:,.0f} now, "
          f"{total['staff_government_required']:,.0f} required ({total['staff_government_ratio']:.1%}); "
          f"staff cost {total['staff_cost_current'] / 1e6:,.1f} -> {total['staff_cost_required'] / 1e6:,.1f} "
          f"million CNY a year (in scope {total['scope_cost_current'] / 1e6:,.1f} -> "
          f"{total['scope_cost_required'] / 1e6:,.1f})")
    for target in result.unattainable:
        print(f"not attainable by staffing: {target.label} (left out of the search)")
    tight = [r["unit"] for r in rows if "tight" in r["one_fewer"]]
    if tight:
        print("tight (one fewer per unit misses a target only within the 95 % CI): " + ", ".join(tight))
    try:
        written = write_outputs(result, base, out)
        written.append(write_staffing_figure(out / "staffing.png", rows, total, config["name"]))
    except OSError as exc:
        raise ScenarioError(str(out), "--out", f"cannot write the results ({exc.strerror or exc})") from None
    print(f"\n{result.runs} simulations, {len(result.seeds)} replications each, status {result.status}; "
          f"wrote {', '.join(str(p) for p in written)}")
    return 0 if result.status == "met" else 1


def _place(args: argparse.Namespace) -> int:
    from sim.experiments.placement_run import place, write_placement
    from sim.outputs.files import safe_slug
    from sim.report.tables import render_table
    from sim.scenario.loading import load_scenario

    if args.radius is not None and not (0 < args.radius <= 600):
        raise ScenarioError("command line", "--radius", f"must be minutes > 0 and <= 600 (got {args.radius})")
    config = load_scenario(args.scenario, {"geography.model": "map"})
    out = _check_out(args.out or f"results/place/{safe_slug(config['name'])}-{safe_slug(args.unit)}")
    result = place(config, args.unit, args.count, args.objective, args.candidates, args.radius)
    summary = result.summary()
    site_of = result.placement.assignment
    rows = [(str(i), [f"{x:.2f}", f"{y:.2f}", f"{result.demand_weight[site_of == i].sum():,.0f}",
                      f"{result.minutes_new[site_of == i].mean():.1f}"])
            for i, (x, y) in enumerate(result.site_xy)]
    print(render_table(["site", "x km", "y km", "served", "mean minutes"], rows))
    print(f"\n{args.unit}: {summary['count']} sites ({args.objective}, {result.mode} travel): mean "
          f"{summary['mean_minutes_now']:.1f} -> {summary['mean_minutes_new']:.1f} min; within "
          f"{summary['circle_minutes']:g} min {summary['share_within_circle_now']:.1%} -> "
          f"{summary['share_within_circle_new']:.1%} (now: the offices where they stand)")
    scenario_file = Path(args.write_scenario) if args.write_scenario else out / "placed.toml"
    if scenario_file.parent and not scenario_file.parent.is_dir():
        raise ScenarioError(str(scenario_file), "--write-scenario", "its folder does not exist")
    try:
        written = write_placement(result, out, args.scenario, scenario_file, config["name"])
    except OSError as exc:
        raise ScenarioError(str(out), "--out", f"cannot write the results ({exc.strerror or exc})") from None
    print(f"wrote {', '.join(str(p) for p in written)}")
    return 0


def _two(now: float, required: float, fmt: str) -> str:
    import math

    def one(value: float) -> str:
        return "-" if value is None or math.isnan(value) else fmt.format(value)

    return f"{one(now)} -> {one(required)}"
