"""The files of one batch folder, and the lock that keeps a second batch out of it.

Why a module of its own: the batch driver (``sim.experiments.batch``) decides what runs; this
module decides where its results land, refuses to write anywhere but inside the folder, and
turns every write error into one line that names the file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sim.errors import ScenarioError
from sim.outputs.files import atomic_write_bytes, write_json

RESUME_KEYS = ("scenarios", "points", "reps", "seed", "scale", "days", "common_seeds", "seeds")
"""The batch identity a ``--resume`` must match (``seeds`` is the per-run seed map)."""

PARTIAL_LOCK_SECONDS = 10.0
"""A lock file with no readable content is a batch still writing it, unless older than this."""


def write_error(path: Path | str, exc: OSError) -> ScenarioError:
    """One line for a write that failed mid-batch; finished runs stay, --resume completes it."""
    return ScenarioError(str(path), "--out", f"cannot write ({exc.strerror or exc}); the batch stopped "
                         "with its finished runs kept; free space or fix permissions, then run again "
                         "with --resume")


class BatchFolder:
    """The files of one batch folder (``runs/``, ``requests/``, tables, metadata, ``.lock``).

    Every run file is checked to resolve to a plain file directly inside ``runs/`` (or
    ``requests/``): run ids are slugs already, this is the guarantee that a hostile id (``../``,
    an absolute path, a NUL byte) can never write elsewhere."""

    def __init__(self, out: str | Path) -> None:
        self.root = Path(out)
        self.runs = self.root / "runs"
        self.requests = self.root / "requests"
        self.lock = self.root / ".lock"
        self.metadata = self.root / "metadata.json"
        self._held: dict[str, Any] | None = None

    def _child(self, folder: Path, run_id: str, suffix: str) -> Path:
        path = folder / f"{run_id}{suffix}"
        if "\0" in run_id or "/" in run_id or os.sep in run_id or path.resolve().parent != folder.resolve():
            raise ScenarioError(str(self.root), "run_id", f"{run_id!r} would be written outside "
                                f"{folder}; a run id must be a plain file name")
        return path

    def run_file(self, run_id: str) -> Path:
        return self._child(self.runs, run_id, ".json")

    def request_file(self, run_id: str) -> Path:
        return self._child(self.requests, run_id, ".parquet")

    # -- the lock -------------------------------------------------------------------------------

    def acquire(self) -> None:
        """Take the folder's lock (``.lock``: pid, host, start time), or refuse in one line if a
        live batch holds it. A lock whose process is gone (same host, pid not running or reused
        by a younger process) is stale and taken over."""
        if self.root.exists() and not self.root.is_dir():
            raise ScenarioError(str(self.root), "--out", "exists and is not a folder")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise write_error(self.root, exc) from None
        me = {"pid": os.getpid(), "host": socket.gethostname(), "pid_started": _process_start(os.getpid()),
              "started_utc": datetime.now(UTC).isoformat(timespec="seconds")}
        for _ in range(3):
            try:
                fd = os.open(self.lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._take_over_if_stale()  # refuses when the holder is alive
                continue
            except OSError as exc:  # read-only folder or file system, no space
                raise write_error(self.lock, exc) from None
            try:
                with os.fdopen(fd, "w") as handle:
                    json.dump(me, handle)
            except OSError as exc:
                self.lock.unlink(missing_ok=True)
                raise write_error(self.lock, exc) from None
            self._held = me
            return
        raise ScenarioError(str(self.root), "--out", "could not take the folder's lock (.lock); "
                            "another batch keeps starting there")

    def _take_over_if_stale(self) -> None:
        """Remove a stale lock. Takers of one stale lock go one at a time (``flock`` on it) and
        remove it only if it is still the file at ``.lock``, so none removes a fresh lock."""
        try:
            handle = open(self.lock, "rb")  # noqa: SIM115 - closed below, after the flock section
        except FileNotFoundError:
            return  # released meanwhile: try again
        with handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            holder = _parse_lock(handle.read())
            info = os.fstat(handle.fileno())
            if holder is None and time.time() - info.st_mtime < PARTIAL_LOCK_SECONDS:
                raise ScenarioError(str(self.root), "--out", "another batch is starting in this folder; "
                                    "wait for it or choose another folder")
            if holder is not None and _alive(holder):
                who = f"pid {holder.get('pid')} on {holder.get('host')}, since {holder.get('started_utc')}"
                raise ScenarioError(str(self.root), "--out", f"another batch ({who}) is writing this "
                                    f"folder; wait for it, choose another folder, or delete {self.lock} "
                                    "if that batch is gone")
            with contextlib.suppress(FileNotFoundError):
                now = os.stat(self.lock)
                if (now.st_dev, now.st_ino) == (info.st_dev, info.st_ino):
                    self.lock.unlink()

    def release(self) -> None:
        if self._held is None:
            return
        try:
            holder = _parse_lock(self.lock.read_bytes())
        except OSError:
            holder = None
        if holder == self._held:
            self.lock.unlink(missing_ok=True)
        self._held = None

    # -- runs -----------------------------------------------------------------------------------

    def check(self, identity: dict[str, Any], resume: bool) -> None:
        """Refuse a folder holding another batch (without --resume) or a different one (with)."""
        if self.root.exists() and not self.root.is_dir():
            raise ScenarioError(str(self.root), "--out", "exists and is not a folder")
        if not resume and self.runs.is_dir() and any(self.runs.iterdir()):
            raise ScenarioError(str(self.root), "--out", "already holds a batch; add --resume to finish "
                                "it or choose another folder")
        if resume and self.metadata.is_file():
            try:
                old = json.loads(self.metadata.read_text())
            except (OSError, ValueError) as exc:
                raise ScenarioError(str(self.metadata), "", f"cannot be read ({exc}); it identifies the "
                                    "batch to resume, so start a new batch in another folder") from None
            for key in RESUME_KEYS:
                if old.get(key) != identity.get(key):
                    raise ScenarioError(str(self.metadata), key, "differs from the batch being resumed; "
                                        "resume with the same scenarios, sweep, reps, seed, scale, days "
                                        "and seeding")
        try:
            self.runs.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise write_error(self.runs, exc) from None

    def completed(self) -> dict[str, int | None]:
        """Run id -> seed of every run file that finished ok (an unreadable one runs again)."""
        done: dict[str, int | None] = {}
        for path in self.runs.glob("*.json") if self.runs.is_dir() else []:
            try:
                record = json.loads(path.read_text())
                if record["status"] == "ok":
                    done[path.stem] = (record.get("spec") or {}).get("seed")
            except (ValueError, KeyError, TypeError, AttributeError, OSError):
                continue
        return done

    def save(self, record: dict[str, Any]) -> None:
        """Write one run (its request log first, so a run file always means a complete run)."""
        blob = record.pop("requests_parquet", None)
        if blob is not None:
            log = self.request_file(record["run_id"])
            try:
                atomic_write_bytes(log, blob)
            except OSError as exc:
                raise write_error(log, exc) from None
        path = self.run_file(record["run_id"])
        try:
            write_json(path, record)
        except OSError as exc:
            raise write_error(path, exc) from None

    def records(self, run_ids: list[str]) -> list[dict[str, Any]]:
        """The readable run files of these runs, in this order (a damaged one is left out)."""
        out = []
        for run_id in run_ids:
            path = self.run_file(run_id)
            try:
                record = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # missing or damaged: counted missing, --resume runs it again
            if isinstance(record, dict) and "spec" in record and "status" in record:
                out.append(record)
        return out


def _parse_lock(data: bytes | str) -> dict[str, Any] | None:
    try:
        holder = json.loads(data)
    except ValueError:
        return None
    return holder if isinstance(holder, dict) else None


def _process_start(pid: int) -> str | None:
    """When ``pid`` started (clock ticks since boot, from /proc), or None where unknown.

    Why: a pid is reused after its process ends; pid and start time together name one process."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError, ValueError):
        return None


def _alive(holder: dict[str, Any]) -> bool:
    """Whether the lock's process still runs (a lock from another host is assumed alive)."""
    if holder.get("host") != socket.gethostname():
        return True
    try:
        pid = int(holder.get("pid", -1))
        if pid <= 0:
            return False
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, TypeError, OverflowError):
        return True
    started = holder.get("pid_started")
    now = _process_start(pid)
    return started is None or now is None or started == now  # a different start: the pid was reused
