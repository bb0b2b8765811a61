"""The package version, recorded in every run's metadata (so results can be traced to code).

Read on first use: ``importlib.metadata`` costs about 70 ms to import, paid by every process
(issue 16), and ``--help`` or a bad input line never needs it.
"""

from __future__ import annotations

from functools import cache


@cache
def package_version() -> str:
    """The installed version of the package, or ``0.0.0+unknown`` in an uninstalled source tree."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sim")
    except PackageNotFoundError:  # running from a source tree that was not installed
        return "0.0.0+unknown"


def __getattr__(name: str) -> str:
    if name == "__version__":
        return package_version()
    raise AttributeError(f"module 'sim.version' has no attribute {name!r}")
