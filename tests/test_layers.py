"""The package's layers hold: a module imports only from its own layer or lower ones, and no
two modules import each other (directly or round a loop), counting imports inside functions.

Layers, lowest first: errors and version; engine (calendars, queueing core); scenario (schema,
loading, reforms); city (the Mesa model); outputs (KPIs, files); experiments (runs, batches,
analyses); report (figures, HTML, tables); cli; and the package top, which only re-exports.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sim"

RANK = {"sim.errors": 0, "sim.version": 0, "sim.lazy_imports": 0, "sim.engine": 1, "sim.scenario": 2,
        "sim.city": 3, "sim.outputs": 4, "sim.experiments": 5, "sim.report": 6, "sim.cli": 7,
        "sim.explore": 7, "sim": 8}


def layer_of(module: str) -> str:
    """The layer a dotted module name belongs to (longest matching prefix)."""
    for prefix in sorted(RANK, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return prefix
    raise KeyError(module)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(tree: ast.AST) -> set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:`` (annotations, never run)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            skipped.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    return skipped


def imported_modules(source: str, module: str, is_package: bool, runtime_only: bool = False) -> set[str]:
    """Every ``sim`` module a source imports, anywhere in the file (lazy imports included);
    with ``runtime_only``, leaving out imports made only for type checkers."""
    found: set[str] = set()
    tree = ast.parse(source)
    skipped = _type_checking_only(tree) if runtime_only else set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against this module's package
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            # `from sim.report import figures` imports the submodule sim.report.figures
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "sim" or name.startswith("sim.")}


def _graph(runtime_only: bool = False) -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = imported_modules(path.read_text(), name, path.name == "__init__.py", runtime_only)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return sorted(f"{src} imports {dst}" for src, dsts in graph.items() for dst in dsts
                  if layer_of(src) != "sim" and RANK[layer_of(dst)] > RANK[layer_of(src)])


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import loop as a list of modules, or None (depth-first search, three colours)."""
    colour: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if colour.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in colour and (loop := visit(nxt)):
                return loop
        stack.pop()
        colour[node] = 2
        return None

    for start in sorted(graph):
        if start not in colour and (loop := visit(start)):
            return loop
    return None


def test_every_module_has_a_layer() -> None:
    for name in _graph():
        assert layer_of(name) in RANK, name


def test_no_module_imports_from_a_higher_layer() -> None:
    graph = _graph()
    # the package top re-exports lazily (PEP 562), so it imports nothing at module level but
    # the version; sim.__init__ itself is the highest layer
    assert upward_imports(graph) == []


def test_no_import_loops() -> None:
    graph = _graph(runtime_only=True)
    # `import sim.x` also runs sim/__init__.py; the top re-exports lazily, so edges into "sim"
    # itself are not loops through it
    graph = {src: {d for d in dsts if d != "sim"} for src, dsts in graph.items()}
    assert find_cycle(graph) is None


def test_the_checks_can_fail() -> None:
    """The checker flags a planted upward import and a planted loop."""
    source = "def f():\n    from sim.report.figures import FIGURES\n"
    graph = {"sim.city.model": imported_modules(source, "sim.city.model", False)}
    assert upward_imports(graph) == ["sim.city.model imports sim.report.figures",
                                     "sim.city.model imports sim.report.figures.FIGURES"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


@pytest.mark.parametrize("name", ["GovernanceModel", "evaluate", "load_scenario", "run_scenario"])
def test_public_api_from_the_package_top(name: str) -> None:
    import sim

    assert callable(getattr(sim, name))
    with pytest.raises(AttributeError):
        sim.no_such_name  # noqa: B018
