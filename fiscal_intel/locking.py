"""One writer per warehouse: an advisory lock file beside the DuckDB file.

DuckDB itself refuses a second writer process with an immediate error; this lock turns that
into orderly waiting. A second ``fiscal-intel run`` on the same warehouse waits for the first
(up to ``lock_timeout`` seconds), then stops with a message naming the holder. The operating
system drops the lock when its holder dies, even by SIGKILL, so a crashed run never leaves it
stuck. ``filelock`` takes the lock with ``flock`` on POSIX and ``msvcrt.locking`` on Windows, so
the package imports and locks the same way on both.

Who holds the lock is written to a second file (``warehouse.duckdb.lock.holder``): on Windows
the locked bytes of the lock file cannot be read by the process that waits.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import filelock

# Warehouses whose lock this process holds: a run that holds it for its whole length must not
# deadlock on itself when its assets open connections (the lock is per open file).
_HELD: set[str] = set()

# A short wait (a `status` reading the run log) is not worth a line on the console.
ANNOUNCE_AFTER = 1.0


def held_here(warehouse: str | Path) -> bool:
    return str(Path(warehouse).resolve()) in _HELD


class WarehouseBusy(Exception):
    """Another process held the warehouse for longer than we were willing to wait."""


def lock_path(warehouse: str | Path) -> Path:
    return Path(f"{warehouse}.lock")


def holder_path(warehouse: str | Path) -> Path:
    return Path(f"{warehouse}.lock.holder")


def holder(warehouse: str | Path) -> str:
    """Who holds (or last held) the lock, as its holder wrote it: ``pid N`` or a command."""
    try:
        return holder_path(warehouse).read_text(encoding="utf-8").strip() or "unknown"
    except OSError:
        return "unknown"


def _file_lock(warehouse: str | Path) -> filelock.FileLock:
    # No soft-lock fallback: a soft lock (a file that exists) would outlive a SIGKILLed holder.
    return filelock.FileLock(lock_path(warehouse), thread_local=False, fallback_to_soft=False)


def lock_is_free(warehouse: str | Path) -> bool:
    """Whether no process holds the warehouse's lock right now (takes and drops it at once)."""
    if held_here(warehouse):
        return False
    lock = _file_lock(warehouse)
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        return False
    lock.release()
    return True


@contextmanager
def warehouse_lock(
    warehouse: str | Path,
    *,
    timeout: float,
    on_wait: Callable[[str], None] | None = None,
    poll: float = 0.2,
    who: str | None = None,
) -> Iterator[None]:
    """Hold the warehouse's writer lock for the duration of the block.

    ``on_wait`` gets one line once the wait has lasted ``ANNOUNCE_AFTER`` seconds; ``who`` is
    what a waiting process is told about us (default ``pid N``).
    """
    path = lock_path(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = _file_lock(warehouse)
    started = time.monotonic()
    deadline = started + timeout
    announced = False
    while True:
        try:
            lock.acquire(timeout=0)
            break
        except filelock.Timeout:
            now = time.monotonic()
            if now >= deadline:
                raise WarehouseBusy(
                    f"warehouse {warehouse} is in use by another run ({holder(warehouse)}); "
                    f"gave up after {timeout:g} s"
                ) from None
            if on_wait and not announced and now - started >= min(ANNOUNCE_AFTER, timeout):
                on_wait(f"waiting for another run on {warehouse} ({holder(warehouse)})")
                announced = True
            time.sleep(poll)
    key = str(Path(warehouse).resolve())
    try:
        holder_path(warehouse).write_text(who or f"pid {os.getpid()}", encoding="utf-8")
        _HELD.add(key)
        yield
    finally:
        _HELD.discard(key)
        lock.release()
