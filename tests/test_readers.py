"""Readers never break a run, a run never breaks a reader, and a killed run leaves a trace
(issue 13, cases 1 and 9), with real `fiscal-intel` processes on the small landing folder."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from fiscal_intel.published import published_path
from fiscal_intel.settings import load_settings

FIXTURE = Path(__file__).parent / "fixtures" / "landing_small"
RAW_ERRORS = ("Conflicting lock", "Traceback", "IO Error", "Could not set lock")
WAIT_LINE = "has not published a copy to read yet; waiting for it to finish"


def _cli(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "fiscal_intel.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "GX_ANALYTICS_ENABLED": "False"},
        **kw,
    )


def _bi_read(warehouse: Path) -> float | None:
    """What a BI tool does: open the published copy read-only and query a mart; seconds taken."""
    path = published_path(warehouse)
    if not path.is_file():
        return None
    started = time.perf_counter()
    with duckdb.connect(str(path), read_only=True) as con:
        con.execute("select count(*) from marts.audit_ranking").fetchall()
    return time.perf_counter() - started


def _read_while(run: subprocess.Popen, warehouse: Path, root: Path, seed: int,
                until: str | None = None) -> dict:
    """Poll `status` continually, start `audit-list` at random moments and read like a BI tool,
    until the run ends (or prints ``until``, then SIGKILL it). Bounded: 240 s."""
    rng = random.Random(seed)
    statuses, lists, bi_seconds, run_lines = [], [], [], []
    deadline = time.monotonic() + 240
    if until:  # the run's own output tells when to kill it: read it on a thread
        import threading

        def follow() -> None:
            for line in run.stdout:
                run_lines.append(line)
                if until in line:
                    os.killpg(run.pid, signal.SIGKILL)
                    return

        threading.Thread(target=follow, daemon=True).start()
    while run.poll() is None and time.monotonic() < deadline:
        status = _cli("status", "--warehouse", str(warehouse))
        statuses.append((status.communicate(timeout=60)[0], status.returncode))
        if rng.random() < 0.4:
            out = root / f"list_{seed}_{len(lists)}.csv"
            lists.append((_cli("audit-list", "--warehouse", str(warehouse), "--program",
                               "inexacto", "--out", str(out)), out))
        seconds = _bi_read(warehouse)
        if seconds is not None:
            bi_seconds.append(seconds)
        time.sleep(rng.uniform(0.3, 0.8))  # with the call itself: about one a second
    assert run.poll() is not None, "the run did not end in 240 s"
    finished = [(proc.communicate(timeout=240)[0], proc.returncode, out) for proc, out in lists]
    return {"statuses": statuses, "lists": finished, "bi_seconds": bi_seconds,
            "run_output": "".join(run_lines) if until else run.communicate()[0]}


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A first run on an empty warehouse while readers read all along: nothing is published
    yet, so `audit-list` waits for the run with one line and `status` shows the run going."""
    root = tmp_path_factory.mktemp("readers")
    warehouse = root / "w.duckdb"
    run = _cli("run", "--landing", str(FIXTURE), "--warehouse", str(warehouse))
    marker = Path(f"{warehouse}.run.json")  # written once the run holds the lock
    deadline = time.monotonic() + 120
    while not marker.exists() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    return {"root": root, "warehouse": warehouse,
            **_read_while(run, warehouse, root, seed=1), "returncode": run.returncode}


def test_readers_during_a_first_run_wait_in_one_line_and_never_break_it(first_run) -> None:
    assert first_run["returncode"] == 0, first_run["run_output"]
    assert len(first_run["statuses"]) >= 3 and first_run["lists"]
    for out, code in first_run["statuses"]:
        assert not any(e in out for e in RAW_ERRORS), out
        assert code in (0, 1, 2), out
    assert any(out.startswith("A run is going on") for out, _ in first_run["statuses"])
    for out, code, path in first_run["lists"]:
        assert code == 0 and path.stat().st_size > 0, out
        assert not any(e in out for e in RAW_ERRORS), out
        extra = [line for line in out.splitlines() if not line.startswith("fiscal-intel: wrote")]
        assert extra in ([], [f"fiscal-intel: a run is writing {first_run['warehouse']} and "
                              f"{WAIT_LINE}"]), out
    assert published_path(first_run["warehouse"]).is_file()


def test_readers_during_a_run_never_wait_and_a_killed_run_leaves_a_trace(
    first_run, tmp_path: Path
) -> None:
    warehouse = tmp_path / "w.duckdb"
    for name in ("w.duckdb", "w.published.duckdb"):
        shutil.copyfile(first_run["root"] / name, tmp_path / name)
    before = tmp_path / "before.csv"
    lister = _cli("audit-list", "--warehouse", str(warehouse), "--program", "inexacto",
                  "--out", str(before))
    assert lister.wait(timeout=60) == 0

    run = _cli("--verbose", "run", "--landing", str(FIXTURE), "--warehouse", str(warehouse),
               start_new_session=True)
    seen = _read_while(run, warehouse, tmp_path, seed=2,
                       until='Started execution of step "staging__')
    assert run.returncode == -signal.SIGKILL, seen["run_output"][-2000:]

    # While the run went: status showed it, every list came at once from the published copy.
    assert any(out.startswith("A run is going on") for out, _ in seen["statuses"])
    for out, code in seen["statuses"]:
        assert not any(e in out for e in RAW_ERRORS), out
        # (a call under way when the run was killed may already see it dead)
        assert code in (0, 2) or (code == 1 and "Latest run DIED" in out), out
    for out, code, path in seen["lists"]:
        assert code == 0 and WAIT_LINE not in out, out
        assert path.read_bytes() == before.read_bytes()
    assert seen["bi_seconds"]
    print(f"BI-style reads during the run: {len(seen['bi_seconds'])}, longest "
          f"{max(seen['bi_seconds']) * 1000:.0f} ms")

    # Killed: status says the run died, readers still see the last complete warehouse.
    status = _cli("status", "--warehouse", str(warehouse))
    out = status.communicate(timeout=60)[0]
    assert status.returncode == 1, out
    assert "Latest run DIED during stage staging" in out
    assert out.splitlines()[2].split()[3] == "died"
    after = tmp_path / "after.csv"
    lister = _cli("audit-list", "--warehouse", str(warehouse), "--program", "inexacto",
                  "--out", str(after))
    assert lister.wait(timeout=60) == 0 and after.read_bytes() == before.read_bytes()

    # The next run records the death in ops.run_log itself (a run of some stages publishes
    # nothing: the published copy stays the last complete one).
    from fiscal_intel.runner import run_pipeline

    published_before = published_path(warehouse).read_bytes()
    run_pipeline(load_settings(landing=str(FIXTURE), warehouse=str(warehouse)), stages=("ref",))
    with duckdb.connect(str(warehouse), read_only=True) as con:
        statuses = [s for (s,) in con.execute(
            "select status from ops.run_log order by started_at").fetchall()]
    assert statuses == ["success", "died", "success"]
    assert published_path(warehouse).read_bytes() == published_before


def test_a_reader_of_an_unpublished_warehouse_is_told_when_a_half_run_built_it(
    tmp_path: Path,
) -> None:
    """A warehouse from before publishing, last written by a run that died: the reader says so."""
    from fiscal_intel.locking import lock_path
    from fiscal_intel.published import reading

    warehouse = tmp_path / "w.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema ops")
        con.execute("create table ops.run_log (run_id varchar, started_at timestamp, "
                    "status varchar)")
        con.execute("insert into ops.run_log values ('a', '2026-01-02 03:04', 'running')")
    lock_path(warehouse).touch()  # a run has locked it before
    said: list[str] = []
    with reading(warehouse, on_wait=said.append) as con:
        assert con.execute("select count(*) from ops.run_log").fetchall() == [(1,)]
    assert said == [f"warning: the last run on {warehouse} (2026-01-02 03:04) died before "
                    "finishing: its tables may mix that run and the one before"]


POSIX_ONLY = {"fcntl", "resource", "termios", "pwd", "grp", "posix", "tty", "pty"}


def test_the_package_imports_nothing_posix_only_outside_a_guard() -> None:
    """Windows, where many tax offices work, has no fcntl or resource: every import of one is
    inside ``try: ... except ImportError``."""
    import ast

    package = Path(__file__).parent.parent / "fiscal_intel"
    unguarded = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        guarded = {
            id(node)
            for t in ast.walk(tree)
            if isinstance(t, ast.Try) and any(
                isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "Exception")
                for h in t.handlers
            )
            for stmt in t.body
            for node in ast.walk(stmt)
        }
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names] if isinstance(node, ast.Import)
                else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            )  # fmt: skip
            for name in names:
                if name.split(".")[0] in POSIX_ONLY and id(node) not in guarded:
                    unguarded.append(f"{path.relative_to(package)}:{node.lineno} {name}")
    assert unguarded == []


def test_the_lock_names_its_holder_and_frees_on_sigkill(tmp_path: Path) -> None:
    from fiscal_intel.locking import WarehouseBusy, lock_is_free, warehouse_lock

    warehouse = tmp_path / "w.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import time\nfrom fiscal_intel.locking import warehouse_lock\n"
         f"with warehouse_lock({str(warehouse)!r}, timeout=5):\n"
         "    print('holding', flush=True)\n    time.sleep(120)\n"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "holding"
    said: list[str] = []
    busy = f"in use by another run \\(pid {holder.pid}\\)"
    with pytest.raises(WarehouseBusy, match=busy), warehouse_lock(
        warehouse, timeout=1.5, on_wait=said.append
    ):
        pass
    assert said == [f"waiting for another run on {warehouse} (pid {holder.pid})"]
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    assert lock_is_free(warehouse)
    with warehouse_lock(warehouse, timeout=1):
        assert not lock_is_free(warehouse)


def test_a_publication_cut_short_is_finished_by_the_next_run(tmp_path: Path) -> None:
    """Killed between its `success` row and the rename, a run leaves `.partial`; the next run
    publishes the finished warehouse before its own stages."""
    from datetime import datetime

    from fiscal_intel.published import partial_path
    from fiscal_intel.run_log import RunRecord, begin_run_log

    warehouse = tmp_path / "w.duckdb"
    settings = load_settings(landing=str(FIXTURE), warehouse=str(warehouse))
    begin_run_log(settings, RunRecord("first", datetime(2026, 1, 1)))
    with duckdb.connect(str(warehouse)) as con:
        con.execute("update ops.run_log set status = 'success'")
    partial_path(warehouse).write_bytes(b"half a copy")
    begin_run_log(settings, RunRecord("second", datetime(2026, 1, 2)))
    assert not partial_path(warehouse).exists()
    with duckdb.connect(str(published_path(warehouse)), read_only=True) as con:
        assert con.execute("select run_id, status from ops.run_log").fetchall() == [
            ("first", "success")
        ]
