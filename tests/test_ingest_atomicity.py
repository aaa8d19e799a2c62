"""Loads are atomic per file (even under SIGKILL) and incremental (a re-run changes nothing)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from fiscal_intel.ingest.loader import load_source
from fiscal_intel.ingest.sources import SOURCES

MESSY = Path(__file__).parent / "fixtures" / "landing_messy"

# The child loads the folder; when the second file's rows are in its transaction (inserted into
# raw and quarantine, not committed), it says so and waits to be killed.
CHILD = """
import sys, time
from pathlib import Path
import duckdb
from fiscal_intel.ingest import loader
from fiscal_intel.ingest.sources import SOURCES

db, folder, marker = sys.argv[1:4]
real_log = loader._log

def log_then_hang(con, batch_id, load, at):
    if load.file == "b.csv" and load.status == "loaded":
        inside = con.execute("select count(*) from raw.payments").fetchall()[0][0]
        Path(marker + ".tmp").write_text(str(inside))
        Path(marker + ".tmp").rename(marker)  # whole when it appears
        time.sleep(120)
    real_log(con, batch_id, load, at)

loader._log = log_then_hang
con = duckdb.connect(db)
loader.load_source(con, SOURCES["payments"], Path(folder))
"""


def _payments(path: Path, first: int, n: int, bad_every: int) -> int:
    """Write n receipts, every ``bad_every``-th with an impossible date; returns how many bad."""
    lines, bad = ["RECIBO;NIT;VIGENCIA;FECHA PAGO;VALOR PAGADO"], 0
    for i in range(first, first + n):
        date = "31/02/2024" if i % bad_every == 0 else "15/03/2024"
        bad += i % bad_every == 0
        lines.append(f"P-{i};900.111.222-1;2023;{date};$ {i:,}".replace(",", "."))
    path.write_text("\n".join(lines) + "\n", encoding="latin-1")
    return bad


def test_a_load_killed_mid_file_leaves_none_of_that_files_rows(tmp_path: Path) -> None:
    folder = tmp_path / "payments"
    folder.mkdir()
    bad_a = _payments(folder / "a.csv", 0, 1_000, bad_every=97)
    bad_b = _payments(folder / "b.csv", 1_000, 20_000, bad_every=89)
    db, marker = tmp_path / "w.duckdb", tmp_path / "inside"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db), str(folder), str(marker)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 300  # generous: a busy machine, not a slow loader
        while not marker.exists():
            if child.poll() is not None:
                pytest.fail(f"the loader exited early: {child.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("the loader never reached the second file")
            time.sleep(0.05)
        # Inside its transaction the child saw both files' valid rows in raw.payments.
        assert int(marker.read_text()) == (1_000 - bad_a) + (20_000 - bad_b)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)

    with duckdb.connect(str(db)) as con:
        # The first file committed; nothing of the second survived the kill.
        assert con.execute(
            "select _file, count(*) from raw.payments group by _file"
        ).fetchall() == [("a.csv", 1_000 - bad_a)]
        assert con.execute(
            "select file, count(*) from ops.quarantine group by file"
        ).fetchall() == [("a.csv", bad_a)]
        assert con.execute("select file, status from ops.load_log").fetchall() == [
            ("a.csv", "loaded")
        ]
        # The next run loads the second file whole, and only it.
        result = load_source(con, SOURCES["payments"], folder)
        assert [(f.file, f.status, f.rows_loaded, f.rows_quarantined) for f in result.files] == [
            ("a.csv", "skipped", 0, 0),
            ("b.csv", "loaded", 20_000 - bad_b, bad_b),
        ]
        total = 21_000 - bad_a - bad_b
        assert con.execute("select count(*) from raw.payments").fetchall() == [(total,)]


def _snapshot(con: duckdb.DuckDBPyConnection) -> dict[str, list]:
    tables = [
        f"{s}.{t}"
        for s, t in con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('raw', 'ops') order by 1, 2"
        ).fetchall()
    ]
    return {t: con.execute(f"select * from {t} order by all").fetchall() for t in tables}


def test_re_running_with_no_new_files_changes_nothing(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(MESSY, landing)
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        first = [load_source(con, SOURCES[s], landing / s) for s in SOURCES]
        before = _snapshot(con)
        second = [load_source(con, SOURCES[s], landing / s) for s in SOURCES]
        assert _snapshot(con) == before
    assert sum(f.status == "loaded" for r in first for f in r.files) == 5
    statuses = [(f.file, f.status) for r in second for f in r.files]
    # The unreadable file fails again (and is reported again) but is not logged twice.
    assert ("ica_2022_reporte.xlsx", "failed") in statuses
    assert {s for _, s in statuses} == {"skipped", "failed"}


def test_a_warehouse_from_before_new_columns_gains_them(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "old.duckdb")) as con:
        con.execute("create schema ops")
        con.execute("create schema raw")
        con.execute(
            "create table ops.load_log (batch_id bigint, source varchar, file varchar, "
            "sha256 varchar, rows_read bigint, rows_loaded bigint, rows_quarantined bigint, "
            "loaded_at timestamp, status varchar, message varchar)"
        )
        con.execute(
            "create table raw.commerce_registry (matricula varchar, nit varchar, "
            "legal_name varchar, organization_type varchar, ciiu varchar, "
            "ciiu_secondary varchar, municipality_code varchar, registered_on date, "
            "last_renewal_year bigint, status varchar, cancelled_on date, "
            "total_assets decimal(18, 2), employees bigint, _file varchar, _sha256 varchar, "
            "_row_number bigint, _batch_id bigint)"
        )
        folder = tmp_path / "commerce_registry"
        shutil.copytree(MESSY / "commerce_registry", folder)
        result = load_source(con, SOURCES["commerce_registry"], folder)
        assert result.files[0].rows_loaded == 4
        assert con.execute(
            "select matricula, dv from raw.commerce_registry where nit = '900111222'"
        ).fetchall() == [("21-000101", 1)]
        assert con.execute("select format from ops.load_log").fetchall() == [
            ("xlsx sheet 'Datos'",)
        ]
