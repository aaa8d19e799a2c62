"""What readers open: a complete, read-only copy of the warehouse that every successful run
publishes when it ends.

DuckDB allows one writer process per file, and a read-only connection from another process
conflicts with it both ways: opened between two assets it made the run's next asset fail, and
opened during an asset it failed itself. So nothing but the run opens the warehouse file
(``data/warehouse.duckdb``). At its end a run checkpoints it, copies it beside itself as
``data/warehouse.published.duckdb.partial`` and renames the copy over
``data/warehouse.published.duckdb`` (``os.replace``, atomic). Readers (the commands, BI tools)
open the published copy: it is never written in place, so a reader never waits for a run, a
run never waits for a reader, and a reader only ever sees a warehouse that a run finished (a
failed or killed run publishes nothing). A reader that has the old copy open keeps reading it.

Before the first publication (a warehouse built by an older version, or the first run still
going) the commands read the warehouse itself while holding the writer lock, so no run starts
under them; if a run is going they say so in one line and wait for it.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from fiscal_intel.locking import (
    held_here,
    holder_path,
    lock_is_free,
    lock_path,
    warehouse_lock,
)
from fiscal_intel.warehouse import connect_warehouse

# Runs that did not finish, as ops.run_log says: a warehouse they left may mix two runs.
UNFINISHED = ("running", "died", "failed")


def published_path(warehouse: str | Path) -> Path:
    """The read-only copy readers and BI tools open: ``warehouse.published.duckdb``."""
    path = Path(warehouse)
    return path.with_name(f"{path.stem}.published{path.suffix or '.duckdb'}")


def partial_path(warehouse: str | Path) -> Path:
    published = published_path(warehouse)
    return published.with_name(published.name + ".partial")


def _say(line: str) -> None:
    print(f"fiscal-intel: {line}", file=sys.stderr, flush=True)


def publish(warehouse: str | Path, *, timeout: float = 3600.0, swap_wait: float = 60.0) -> int:
    """Copy the warehouse to its published copy, atomically; returns the bytes copied.

    Takes the writer lock unless this process holds it. On Windows a file that a reader has
    open cannot be replaced: the swap is retried for ``swap_wait`` seconds.
    """
    if not held_here(warehouse):
        with warehouse_lock(warehouse, timeout=timeout, on_wait=_say):
            return publish(warehouse, timeout=timeout, swap_wait=swap_wait)
    source, partial, target = Path(warehouse), partial_path(warehouse), published_path(warehouse)
    # Fold the write-ahead log into the file: the copy must be complete without it.
    with connect_warehouse(source) as con:
        con.execute("checkpoint")
    shutil.copyfile(source, partial)
    with open(partial, "rb+") as fh:  # on disk before it takes the name readers open
        os.fsync(fh.fileno())
    deadline = time.monotonic() + swap_wait
    while True:
        try:
            os.replace(partial, target)
            break
        except PermissionError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.5)
    return target.stat().st_size


def publication_interrupted(warehouse: str | Path) -> bool:
    """A run was killed while copying: its leftover ``.partial`` is still there."""
    return partial_path(warehouse).exists()


@contextmanager
def readable(
    warehouse: str | Path,
    *,
    timeout: float = 3600.0,
    on_wait: Callable[[str], None] | None = _say,
) -> Iterator[Path]:
    """The path a reader should open read-only (or ATTACH): the published copy, or, before the
    first publication, the warehouse itself with the writer lock held for the block."""
    warehouse = Path(warehouse)
    published = published_path(warehouse)
    if published.is_file():
        yield published
        return
    missing = f"warehouse {warehouse} does not exist: run fiscal-intel first"
    if not warehouse.is_file() and lock_is_free(warehouse):
        raise FileNotFoundError(missing)  # (with the lock held, a first run is creating it)
    ever_locked = holder_path(warehouse).exists() or lock_path(warehouse).exists()
    if held_here(warehouse) or not ever_locked:
        # We are the run, or no run has ever locked it (an exported leadership file).
        yield warehouse
        return

    def waiting(_line: str) -> None:
        if on_wait:
            on_wait(
                f"a run is writing {warehouse} and has not published a copy to read yet; "
                "waiting for it to finish"
            )

    who = f"a reader (pid {os.getpid()})"
    with warehouse_lock(warehouse, timeout=timeout, on_wait=waiting, who=who):
        if published.is_file():  # the run we waited for published it
            yield published
            return
        if not warehouse.is_file():
            raise FileNotFoundError(missing)
        _warn_if_unfinished(warehouse, on_wait)
        yield warehouse


def _warn_if_unfinished(warehouse: Path, on_wait: Callable[[str], None] | None) -> None:
    """Say so when the warehouse itself was last written by a run that did not finish."""
    try:
        with connect_warehouse(warehouse, read_only=True) as con:
            found = con.execute(
                "select count(*) from duckdb_tables() where schema_name = 'ops' "
                "and table_name = 'run_log'"
            ).fetchall()[0][0]
            latest = (
                con.execute(
                    "select status, started_at from ops.run_log order by started_at desc limit 1"
                ).fetchall()
                if found
                else []
            )
    except duckdb.Error:
        return
    if latest and latest[0][0] in UNFINISHED and on_wait:
        status = "died" if latest[0][0] == "running" else latest[0][0]
        on_wait(
            f"warning: the last run on {warehouse} ({latest[0][1]:%Y-%m-%d %H:%M}) {status} "
            "before finishing: its tables may mix that run and the one before"
        )


@contextmanager
def reading(
    warehouse: str | Path,
    *,
    timeout: float = 3600.0,
    on_wait: Callable[[str], None] | None = _say,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to what readers should see (see :func:`readable`)."""
    with readable(warehouse, timeout=timeout, on_wait=on_wait) as path:
        con = connect_warehouse(path, read_only=True)
        try:
            yield con
        finally:
            con.close()
