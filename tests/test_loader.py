"""Loading landing files: nothing lost, nothing loaded twice, a bad file fails alone."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from fiscal_intel.ingest import loader
from fiscal_intel.ingest.loader import load_source
from fiscal_intel.ingest.sources import SOURCES

FIXTURE = Path(__file__).parent / "fixtures" / "landing_small"


@pytest.fixture()
def wh(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    c = duckdb.connect(str(tmp_path / "w.duckdb"))
    yield c
    c.close()


def _copy(tmp_path: Path, source: str) -> Path:
    folder = tmp_path / "landing" / source
    shutil.copytree(FIXTURE / source, folder)
    return folder


def test_bad_rows_are_quarantined_with_specific_reasons(wh, tmp_path: Path) -> None:
    result = load_source(wh, SOURCES["payments"], _copy(tmp_path, "payments"))
    (f,) = result.files
    assert (f.status, f.rows_read, f.rows_loaded, f.rows_quarantined) == ("loaded", 8, 7, 1)
    row_number, reason, raw = wh.execute(
        "select row_number, reason, raw from ops.quarantine"
    ).fetchall()[0]
    assert row_number == 8
    assert reason == "paid_on '31/02/2024' is not a date"
    assert "31/02/2024" in raw


def test_dv_and_number_reasons(wh, tmp_path: Path) -> None:
    load_source(wh, SOURCES["taxpayers"], _copy(tmp_path, "taxpayers"))
    load_source(wh, SOURCES["withholdings"], _copy(tmp_path, "withholdings"))
    reasons = dict(wh.execute("select source, reason from ops.quarantine").fetchall())
    assert reasons["taxpayers"] == "dv 8 does not match nit 43987654 (should be 9)"
    assert reasons["withholdings"] == "base_amount '90000000-3' is not an amount of money"


def test_nit_with_wrong_check_digit(wh, tmp_path: Path) -> None:
    folder = tmp_path / "landing" / "payments"
    folder.mkdir(parents=True)
    (folder / "p.csv").write_text(
        "payment_id,nit,tax_year,paid_on,amount\nP1,900.123.456-7,2023,2024-01-02,10\n"
        "P2, 800.197.268-4 ,2023,2024-01-02,10\n"
    )
    load_source(wh, SOURCES["payments"], folder)
    assert wh.execute("select reason from ops.quarantine").fetchall() == [
        ("nit '900.123.456-7': check digit should be 8",)
    ]
    assert wh.execute("select nit from raw.payments").fetchall() == [("800197268",)]


def test_same_bytes_load_once_even_renamed(wh, tmp_path: Path) -> None:
    folder = _copy(tmp_path, "payments")
    shutil.copy(folder / "pagos.csv", folder / "pagos_again.csv")
    first = load_source(wh, SOURCES["payments"], folder)
    assert [f.status for f in first.files] == ["loaded", "duplicate"]
    second = load_source(wh, SOURCES["payments"], folder)
    assert [f.status for f in second.files] == ["skipped", "skipped"]
    assert wh.execute("select count(*) from raw.payments").fetchall() == [(7,)]
    assert wh.execute("select count(*) from ops.load_log").fetchall() == [(2,)]


def test_unreadable_file_fails_alone_naming_the_problem(wh, tmp_path: Path) -> None:
    folder = _copy(tmp_path, "payments")
    (folder / "broken.csv").write_text("codigo,total\n1,2\n")
    (folder / "empty.csv").write_text("")
    result = load_source(wh, SOURCES["payments"], folder)
    messages = {f.file: f.message for f in result.failures}
    assert messages["broken.csv"].startswith(
        "broken.csv: missing required column(s) payment_id, nit, tax_year, paid_on, amount"
    )
    assert messages["empty.csv"] == "empty.csv: the file is empty"
    # The good file still loaded; the bad ones left nothing behind.
    assert wh.execute("select count(*) from raw.payments").fetchall() == [(7,)]
    assert wh.execute(
        "select count(*) from ops.quarantine where file <> 'pagos.csv'"
    ).fetchall() == [(0,)]


def test_parquet_and_xlsx_read_like_csv(wh, tmp_path: Path) -> None:
    folder = tmp_path / "landing" / "payments"
    folder.mkdir(parents=True)
    frame = pl.read_csv(FIXTURE / "payments" / "pagos.csv", infer_schema=False).head(7)
    typed = frame.with_columns(pl.col("amount").cast(pl.Int64), pl.col("nit").cast(pl.Int64))
    typed.write_parquet(folder / "a.parquet")
    typed.with_columns(pl.col("payment_id") + "x").write_excel(folder / "b.xlsx")
    result = load_source(wh, SOURCES["payments"], folder)
    assert [(f.status, f.rows_loaded, f.rows_quarantined) for f in result.files] == [
        ("loaded", 7, 0),
        ("loaded", 7, 0),
    ]
    nits = {r[0] for r in wh.execute("select nit from raw.payments").fetchall()}
    assert nits == {"900111222", "900333444", "800555666"}


def test_a_crash_mid_file_leaves_none_of_its_rows(wh, tmp_path: Path, monkeypatch) -> None:
    folder = _copy(tmp_path, "payments")
    real_log = loader._log

    def crash(con, batch_id, load, at):  # after the rows were inserted, before the commit
        if load.status == "loaded":
            raise RuntimeError("power cut")
        real_log(con, batch_id, load, at)

    monkeypatch.setattr(loader, "_log", crash)
    with pytest.raises(RuntimeError, match="power cut"):
        load_source(wh, SOURCES["payments"], folder)
    assert wh.execute("select count(*) from raw.payments").fetchall() == [(0,)]
    assert wh.execute("select count(*) from ops.quarantine").fetchall() == [(0,)]
    assert wh.execute("select count(*) from ops.load_log").fetchall() == [(0,)]
    monkeypatch.setattr(loader, "_log", real_log)
    result = load_source(wh, SOURCES["payments"], folder)
    assert result.files[0].rows_loaded == 7
