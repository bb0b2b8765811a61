"""Numba for the compiled kernels, without its one slow start-up question.

When Numba first loads or compiles a kernel it imports its NumPy implementations
(``numba.np.arraymath``), which ask whether a BLAS is there by importing
``scipy.linalg.cython_blas``: all of ``scipy.linalg``, and through SciPy's array-API layer most of
NumPy's lazily loaded submodules, 0.16 s of every process (5 % of a full-city year). The kernels
here use no linear algebra (no ``np.dot``, no ``np.linalg``), so this module imports
``arraymath`` once with that probe answered "no BLAS", then lets ``scipy.linalg`` import as usual
for any later user. ``SIM_EAGER_IMPORTS=1`` (``sim.lazy_imports``) leaves Numba to ask.
"""

from __future__ import annotations

import os
import sys

import numba

_PROBE = "scipy.linalg.cython_blas"


def _import_arraymath_without_blas_probe() -> None:
    if "numba.np.arraymath" in sys.modules or _PROBE in sys.modules:
        return  # (already imported: nothing to save)
    if os.environ.get("SIM_EAGER_IMPORTS") == "1":
        return
    sys.modules[_PROBE] = None  # an import of it fails at once, before its package is run
    try:
        import numba.np.arraymath  # noqa: F401
    finally:
        if sys.modules.get(_PROBE, 0) is None:
            del sys.modules[_PROBE]


_import_arraymath_without_blas_probe()

__all__ = ["numba"]
