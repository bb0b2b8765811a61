"""Defer the heavy libraries that Mesa imports but a run never touches.

``import mesa`` loads pandas, networkx, SciPy's spatial trees and Mesa's grids, networks and
experimental modules, about 1 s of a full-city year's 3 s budget (issue 16), though a run uses
only ``mesa.Model``, ``mesa.Agent`` and ``mesa.DataCollector``. Each module named here is
created empty when first imported and executed on first use of one of its attributes (the
standard library's ``importlib.util.LazyLoader``), so code that does use it (batches build
pandas frames, a user's script builds a grid) gets the real module, just later.

The one change to the standard loader: reading a module's own metadata (``__spec__``,
``__file__`` ...) does not load it, because importing a module a second time and
``inspect.stack()`` (which Mesa's logging calls at import) read that of every loaded module.
Importing a submodule of a deferred package (``import pandas.api.types``) first runs the
package, as an eager import would. Set ``SIM_EAGER_IMPORTS=1`` to import everything eagerly
(to rule this out when debugging).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
import types

DEFERRED = ("pandas", "networkx", "mesa.discrete_space", "mesa.experimental", "mesa.space",
            "mesa.experimental.continuous_space", "mesa.experimental.meta_agents", "mesa.experimental.devs")
_METADATA = frozenset({"__spec__", "__name__", "__loader__", "__path__", "__file__", "__package__",
                       "__class__", "__dict__"})


class _DeferredModule(importlib.util._LazyModule):
    """A module not executed yet: reading its metadata leaves it so, anything else executes it."""

    def __getattribute__(self, attr: str) -> object:
        if attr in _METADATA:
            return object.__getattribute__(self, attr)
        return super().__getattribute__(attr)


class _DeferringLoader(importlib.util.LazyLoader):
    def exec_module(self, module: types.ModuleType) -> None:
        super().exec_module(module)
        module.__class__ = _DeferredModule


class _DeferringFinder:
    """Finds the named modules with the other finders and wraps their loaders, once each (a
    meta path finder; not derived from ``importlib.abc``, whose import costs 50 ms)."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = set(names)

    def find_spec(self, name: str, path: object = None,
                  target: types.ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        parent = name.rpartition(".")[0]
        if parent and isinstance(sys.modules.get(parent), _DeferredModule):
            # a submodule first: run the package itself before it, as an eager import would
            # (else the package's own imports of that submodule meet it half made: a cycle)
            _ = sys.modules[parent].__doc__  # any attribute but its metadata runs it
        if name not in self.names:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        self.names.discard(name)
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec  # a namespace package or an old-style loader: imported as usual
        spec.loader = _DeferringLoader(spec.loader)
        return spec


def defer_heavy_imports(names: tuple[str, ...] = DEFERRED) -> None:
    """Install the deferring finder for ``names`` not imported yet (idempotent)."""
    if os.environ.get("SIM_EAGER_IMPORTS") == "1":
        return
    if any(isinstance(finder, _DeferringFinder) for finder in sys.meta_path):
        return
    pending = tuple(name for name in names if name not in sys.modules)
    if pending:
        sys.meta_path.insert(0, _DeferringFinder(pending))
