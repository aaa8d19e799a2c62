"""What Dagster and BI users expect of the warehouse: column schemas, row counts and
``COMMENT ON`` from one catalogue of texts (``fiscal_intel.catalogue``), the same texts in the
shareable leadership file and in the mart reference (``docs/mart_reference.md``)."""

from __future__ import annotations

import duckdb
import pytest

from fiscal_intel.catalogue import (
    COLUMNS,
    LEADERSHIP_TITLES_ES,
    MART_REFERENCE,
    column_text,
    mart_reference,
    missing_texts,
)
from fiscal_intel.leadership import LEADERSHIP_MARTS

# Schemas whose tables the pipeline builds (ops bookkeeping included).
WAREHOUSE_SCHEMAS = ("raw", "ops", "staging", "ref", "features", "scoring", "marts", "evaluation")


@pytest.fixture(scope="module")
def warehouse(demo_run) -> duckdb.DuckDBPyConnection:
    with duckdb.connect(str(demo_run["warehouse"]), read_only=True) as con:
        yield con


def test_every_mart_column_has_a_text(warehouse) -> None:
    assert missing_texts(warehouse) == [], "add the texts to fiscal_intel/catalogue.py"


def test_every_warehouse_table_and_column_is_commented(warehouse) -> None:
    tables = warehouse.execute(
        "select schema_name || '.' || table_name from duckdb_tables() "
        "where list_contains(?, schema_name) and comment is null",
        [list(WAREHOUSE_SCHEMAS)],
    ).fetchall()
    assert tables == []
    columns = warehouse.execute(
        "select schema_name || '.' || table_name || '.' || column_name from duckdb_columns() "
        "where list_contains(?, schema_name) and comment is null",
        [list(WAREHOUSE_SCHEMAS)],
    ).fetchall()
    assert columns == [], "a column without a text: add it to fiscal_intel/catalogue.py"


def test_comments_are_the_catalogue_texts(warehouse) -> None:
    (comment,) = warehouse.execute(
        "select comment from duckdb_columns() where schema_name = 'marts' "
        "and table_name = 'tax_gap' and column_name = 'gap_share'"
    ).fetchone()
    assert comment == COLUMNS["marts.tax_gap"]["gap_share"]
    (table_comment,) = warehouse.execute(
        "select comment from duckdb_tables() where schema_name = 'marts' "
        "and table_name = 'revenue_monthly'"
    ).fetchone()
    assert table_comment.startswith("ICA collected per month of payment")


def test_catalogue_names_only_columns_that_exist(warehouse) -> None:
    """A text for a column a table no longer has is a stale text."""
    built = {
        (s, t, c)
        for s, t, c in warehouse.execute(
            "select schema_name, table_name, column_name from duckdb_columns()"
        ).fetchall()
    }
    stale = [
        f"{table}.{column}"
        for table, texts in COLUMNS.items()
        for column in texts
        if (*table.split("."), column) not in built
    ]
    assert stale == []


def test_every_asset_reports_its_column_schema_and_row_count(demo_run, warehouse) -> None:
    tables = {
        f"{s}/{t}"
        for s, t in warehouse.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where list_contains(?, schema_name)",
            [list(WAREHOUSE_SCHEMAS)],
        ).fetchall()
    }
    reported = {}
    for stage in demo_run["stages"]:
        for key, meta in stage.metadata.items():
            if key in tables:
                reported[key] = meta
    # Every table an asset of the same name builds (ops bookkeeping is written by others).
    assert {k for k in tables if not k.startswith("ops/")} <= reported.keys()
    for key, meta in reported.items():
        schema, table = key.split("/")
        columns = warehouse.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = ? and table_name = ? order by ordinal_position",
            [schema, table],
        ).fetchall()
        column_schema = meta["dagster/column_schema"]
        assert [(c.name, c.type) for c in column_schema.columns] == columns, key
        assert all(
            c.description == column_text(schema, table, c.name) for c in column_schema.columns
        )
        if schema != "raw":  # raw tables grow with later loads; the count is of that run
            (rows,) = warehouse.execute(f"select count(*) from {schema}.{table}").fetchone()
            assert meta["dagster/row_count"] == rows, key
    ranking = reported["marts/audit_ranking"]["dagster/column_schema"]
    assert all(c.description for c in ranking.columns)


def test_leadership_file_has_table_and_column_comments(demo_run, tmp_path) -> None:
    from fiscal_intel.leadership.export import export_leadership_file

    out = tmp_path / "leadership.duckdb"
    export_leadership_file(demo_run["warehouse"], out)
    with duckdb.connect(str(out), read_only=True) as con:
        tables = dict(
            con.execute(
                "select table_name, comment from duckdb_tables() where schema_name = 'marts'"
            ).fetchall()
        )
        columns = con.execute(
            "select table_name, column_name, comment from duckdb_columns() "
            "where schema_name = 'marts'"
        ).fetchall()
    assert tables == {t: LEADERSHIP_TITLES_ES[t] for t in LEADERSHIP_MARTS}
    assert columns and all(c == column_text("marts", t, n) for t, n, c in columns)


def test_mart_reference_is_generated_from_the_catalogue(warehouse) -> None:
    """docs/mart_reference.md is what `python -m fiscal_intel.catalogue` writes from a built
    warehouse: a new mart, column or text makes this fail until it is regenerated."""
    assert MART_REFERENCE.read_text(encoding="utf-8") == mart_reference(warehouse), (
        "regenerate: python -m fiscal_intel.catalogue <warehouse built from the demo>"
    )


def test_readme_points_to_the_mart_reference() -> None:
    readme = (MART_REFERENCE.parent.parent / "README.md").read_text(encoding="utf-8")
    assert "docs/mart_reference.md" in readme
