"""What keeps a municipality's run cheap (issue #19, requirement 5): the macros written once per
warehouse version, a table's comments in one commit, the warehouse held open for a run's stages."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from fiscal_intel import sqlfiles
from fiscal_intel.catalogue import comment_table
from fiscal_intel.sqlfiles import install_macros


def _marker_macros(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        name
        for (name,) in con.execute(
            "select function_name from duckdb_functions() "
            "where function_name like 'fi_macros_%' and database_name = current_database()"
        ).fetchall()
    ]


def test_macros_are_written_once_per_version_and_kept_in_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        install_macros(con)
        assert _marker_macros(con) == [sqlfiles._macros()[1]]
        # Installed: a second call writes nothing (a dropped macro stays dropped).
        con.execute("drop macro fi_trim")
        install_macros(con)
        assert not con.execute(
            "select count(*) from duckdb_functions() where function_name = 'fi_trim'"
        ).fetchall()[0][0]
    # Another version of the macros (their text changed): written again, in the same file.
    texts, _ = sqlfiles._macros()
    monkeypatch.setattr(sqlfiles, "_macros", lambda: (texts, "fi_macros_0000000000000000"))
    with duckdb.connect(str(path)) as con:
        install_macros(con)
        assert con.execute("select fi_trim(' a ')").fetchall() == [("a",)]
        assert "fi_macros_0000000000000000" in _marker_macros(con)
    # Stored in the file: a connection that installs nothing can use them (SQL checks do).
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("select fi_nit_dv('800197268')").fetchall() == [(4,)]


def test_macros_refuse_a_callers_open_transaction(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.begin()
        with pytest.raises(duckdb.TransactionException):
            install_macros(con)


def test_a_tables_comments_are_one_transaction(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute("create schema marts")
        con.execute("create table marts.revenue_yearly (tax_year integer, collected double)")
        columns = comment_table(con, "marts", "revenue_yearly", "Recaudo por año")
        assert columns == [("tax_year", "INTEGER"), ("collected", "DOUBLE")]
        assert con.execute(
            "select comment from duckdb_tables() where table_name = 'revenue_yearly'"
        ).fetchall() == [("Recaudo por año",)]
        assert con.execute(
            "select count(*) from duckdb_columns() "
            "where table_name = 'revenue_yearly' and comment is not null"
        ).fetchall()[0][0] == 2


def test_a_run_holds_the_warehouse_open_for_its_stages(tmp_path: Path) -> None:
    """While held, another connection with the resource's settings joins the open database (no
    file open, no checkpoint on close); a different configuration cannot open it, so the hold must
    end before the run log and the publication."""
    from fiscal_intel.resources import build_resources
    from fiscal_intel.runner import _warehouse_kept_open
    from fiscal_intel.settings import load_settings

    settings = load_settings(None, landing=str(tmp_path), warehouse=str(tmp_path / "w.duckdb"))
    warehouse = build_resources(settings)["warehouse"]
    with _warehouse_kept_open(warehouse):
        with warehouse.get_connection() as con:
            con.execute("create table t as select 1 as a")
        # Not checkpointed: the write is still in the write-ahead log of the open database.
        assert (tmp_path / "w.duckdb.wal").exists()
        with pytest.raises(duckdb.ConnectionException):
            duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        assert con.execute("select a from t").fetchall() == [(1,)]
