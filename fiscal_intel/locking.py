"""One writer per warehouse: an advisory lock file beside the DuckDB file.

DuckDB itself refuses a second writer process with an immediate error; this lock turns that
into orderly waiting. A second ``fiscal-intel run`` on the same warehouse waits for the first
(up to ``lock_timeout`` seconds), then stops with a message naming the holder. The kernel drops
the lock when its holder dies, even by SIGKILL, so a crashed run never leaves it stuck.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

# Warehouses whose lock this process holds: a run that holds it for its whole length must not
# deadlock on itself when its assets open connections (flock locks are per open file).
_HELD: set[str] = set()


def held_here(warehouse: str | Path) -> bool:
    return str(Path(warehouse).resolve()) in _HELD


class WarehouseBusy(Exception):
    """Another process held the warehouse for longer than we were willing to wait."""


def lock_path(warehouse: str | Path) -> Path:
    return Path(f"{warehouse}.lock")


def _holder(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip() or "unknown"
    except OSError:
        return "unknown"


@contextmanager
def warehouse_lock(
    warehouse: str | Path,
    *,
    timeout: float,
    on_wait: Callable[[str], None] | None = None,
    poll: float = 0.2,
) -> Iterator[None]:
    """Hold the warehouse's writer lock for the duration of the block."""
    path = lock_path(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        announced = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _holder(path)
                if time.monotonic() >= deadline:
                    raise WarehouseBusy(
                        f"warehouse {warehouse} is in use by another run ({holder}); "
                        f"gave up after {timeout:g} s"
                    ) from None
                if on_wait and not announced:
                    on_wait(f"waiting for another run on {warehouse} ({holder})")
                    announced = True
                time.sleep(poll)
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}".encode())
        key = str(Path(warehouse).resolve())
        _HELD.add(key)
        try:
            yield
        finally:
            _HELD.discard(key)
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
