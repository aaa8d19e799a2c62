"""The whole pipeline through the CLI on a hand-written landing folder the demo did not write."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from fiscal_intel.cli import main

FIXTURE = Path(__file__).parent / "fixtures" / "landing_small"

CONTRACT = {
    "marts.audit_ranking": {
        "program": "VARCHAR",
        "rank": "INTEGER",
        "nit": "VARCHAR",
        "legal_name": "VARCHAR",
        "tax_year": "INTEGER",
        "risk_score": "DOUBLE",
        "expected_recovery": "DOUBLE",
        "reasons": "VARCHAR",
        "statute_expires_on": "DATE",
    },
    "marts.revenue_monthly": {
        "month": "DATE",
        "ciiu_section": "VARCHAR",
        "collected": "DOUBLE",
        "payers": "INTEGER",
    },
    "ops.quarantine": {
        "source": "VARCHAR",
        "file": "VARCHAR",
        "row_number": "BIGINT",
        "reason": "VARCHAR",
        "raw": "VARCHAR",
    },
    "ops.load_log": {
        "source": "VARCHAR",
        "file": "VARCHAR",
        "sha256": "VARCHAR",
        "rows_loaded": "BIGINT",
        "rows_quarantined": "BIGINT",
        "loaded_at": "TIMESTAMP",
        "status": "VARCHAR",
    },
}


def columns(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    schema, name = table.split(".")
    return dict(
        con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = ? and table_name = ?",
            [schema, name],
        ).fetchall()
    )


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("small")
    landing = root / "landing"
    shutil.copytree(FIXTURE, landing)
    warehouse = root / "w.duckdb"
    assert main(["run", "--landing", str(landing), "--warehouse", str(warehouse)]) == 0
    return {"root": root, "landing": landing, "warehouse": warehouse}


def test_contract_tables_and_columns(small) -> None:
    with duckdb.connect(str(small["warehouse"]), read_only=True) as con:
        for table, expected in CONTRACT.items():
            actual = columns(con, table)
            for column, dtype in expected.items():
                assert actual.get(column) == dtype, (table, column, actual.get(column))


def test_ranking_rules(small) -> None:
    with duckdb.connect(str(small["warehouse"]), read_only=True) as con:
        ranking = con.sql("select * from marts.audit_ranking").pl()
        audited = con.sql("select nit, tax_year from staging.stg_audits").pl()
        as_of = con.execute("select as_of from staging.as_of_date").fetchall()[0][0]
    assert set(ranking["program"]) == {"omiso", "inexacto"}
    assert ranking.join(audited, on=["nit", "tax_year"], how="semi").height == 0
    assert (ranking["statute_expires_on"] >= as_of).all()
    for _, group in ranking.group_by("program"):
        g = group.sort("rank")
        assert g["rank"].to_list() == list(range(1, g.height + 1))
        assert g["expected_recovery"].is_sorted(descending=True)
        assert g["reasons"].str.len_chars().min() > 10
    # The chamber registrant never registered with the tax office is an omiso candidate; the
    # establishment of another municipality is not.
    omiso = ranking.filter(pl.col("program") == "omiso")
    assert "811222333" in omiso["nit"].to_list()
    assert "900999000" not in ranking["nit"].to_list()
    # The corrected 2023 return replaced the original.
    with duckdb.connect(str(small["warehouse"]), read_only=True) as con:
        assert con.execute(
            "select declaration_id, first_filed_on::varchar, filings from staging.stg_declarations"
            " where nit = '900333444' and tax_year = 2023"
        ).fetchall() == [("D23-2C", "2024-04-15", 2)]


def test_revenue_reconciles_with_payments(small, tmp_path: Path) -> None:
    # Three taxpayers paid here: tax secrecy (fewer than 5) withholds every revenue amount...
    with duckdb.connect(str(small["warehouse"]), read_only=True) as con:
        paid = con.execute("select sum(amount)::double from staging.stg_payments").fetchall()[0][0]
        for table in ("revenue_monthly", "revenue_yearly"):
            assert con.execute(
                f"select count(*), count(collected) from marts.{table}"
            ).fetchall() == [(1, 0)]
    assert paid == 54_397_000
    # ...while the same SQL without a threshold reconciles to the peso (on a copy).
    from fiscal_intel.sqlfiles import install_macros, run_sql

    copy = tmp_path / "copy.duckdb"
    shutil.copy(small["warehouse"], copy)
    # No threshold, no dominance rule, no rounding; as-of at a month's end (no open month).
    unprotected = {"min_cell_taxpayers": 1, "dominance_p_percent": 0, "secrecy_rounding_cop": 1}
    with duckdb.connect(str(copy)) as con:
        install_macros(con)
        con.execute(
            "update staging.as_of_date set as_of = last_day(greatest(as_of, "
            "(select max(paid_on) from staging.stg_payments)))"
        )
        for table in ("revenue_monthly", "revenue_yearly"):
            run_sql(con, f"marts/{table}", **unprotected)
        monthly = con.execute("select sum(collected) from marts.revenue_monthly").fetchall()[0][0]
        yearly = con.execute("select sum(collected) from marts.revenue_yearly").fetchall()[0][0]
    assert monthly == yearly == paid


def test_rerun_changes_nothing(small, tmp_path: Path) -> None:
    def snapshot() -> pl.DataFrame:
        with duckdb.connect(str(small["warehouse"]), read_only=True) as con:
            return con.sql("select * from marts.audit_ranking order by program, rank").pl()

    before = snapshot()
    assert main(["run", "--landing", str(small["landing"]), "--warehouse",
                 str(small["warehouse"])]) == 0
    assert snapshot().equals(before)
    with duckdb.connect(str(small["warehouse"]), read_only=True) as con:
        assert con.execute("select count(*) from raw.payments").fetchall() == [(7,)]


def test_audit_list_exports(small, tmp_path: Path) -> None:
    for suffix in ("csv", "xlsx"):
        out = tmp_path / f"list.{suffix}"
        assert main(["audit-list", "--warehouse", str(small["warehouse"]), "--program",
                     "inexacto", "--top", "3", "--out", str(out)]) == 0
        # Spanish headers; the CSV is what a Spanish-locale Excel opens (';', BOM)
        read = (
            pl.read_csv(out, separator=";", encoding="utf8-lossy")
            if suffix == "csv"
            else pl.read_excel(out, sheet_id=1, engine="openpyxl")
        )
        assert read.height == 3
        assert read["Posición"].to_list() == [1, 2, 3]
        assert "Motivos" in read.columns


def test_unreadable_file_fails_the_run_naming_it(small, tmp_path: Path, capsys) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(small["landing"], landing)
    warehouse = tmp_path / "w.duckdb"
    shutil.copy(small["warehouse"], warehouse)
    (landing / "payments" / "corrupt.csv").write_text("payment_id;nit\nX;1\n")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        before = con.sql("select * from marts.audit_ranking order by program, rank").pl()
    code = main(["run", "--landing", str(landing), "--warehouse", str(warehouse)])
    err = capsys.readouterr().err
    assert code != 0
    assert "corrupt.csv: missing required column(s) tax_year, paid_on, amount" in err
    assert len(err.strip().splitlines()) == 1
    with duckdb.connect(str(warehouse), read_only=True) as con:
        after = con.sql("select * from marts.audit_ranking order by program, rank").pl()
        assert con.execute("select count(*) from raw.payments").fetchall() == [(7,)]
    assert after.equals(before)
