"""Keep Numba's on-disk cache of the compiled core honest.

Numba keys a cached kernel on its own source file only. The core's kernels inline functions
from ``compiled_workday.py`` and freeze constants from ``calendars.py``, so after an update that
touches only those files a user would silently run the old kernels. This drops the cache when
their sources change (a digest of them is kept beside the cache).
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEPENDENCIES = ("calendars.py", "compiled_workday.py", "compiled.py")


def _cache_dir() -> Path:
    import numba

    root = numba.config.CACHE_DIR
    if not root:
        return HERE / "__pycache__"
    # a set NUMBA_CACHE_DIR mirrors the source tree below it
    return Path(root) / HERE.relative_to(HERE.anchor)


def drop_stale_kernels() -> None:
    """Remove cached kernels compiled from other versions of the core's sources. Never raises:
    a read-only install only loses the check, not the run."""
    digest = hashlib.sha256(b"".join((HERE / name).read_bytes() for name in DEPENDENCIES)).hexdigest()
    folder = _cache_dir()
    stamp = folder / "compiled-kernels.sha256"
    with contextlib.suppress(OSError):
        if stamp.is_file() and stamp.read_text(encoding="ascii").strip() == digest:
            return
        for path in folder.glob("compiled*.nb[ic]"):
            path.unlink(missing_ok=True)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = stamp.with_suffix(".tmp")
        tmp.write_text(digest, encoding="ascii")
        tmp.replace(stamp)
