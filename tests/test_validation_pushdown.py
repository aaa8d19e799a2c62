"""The SQL translation of the GX suites gives GX's own verdicts and counts on the same rows."""

from __future__ import annotations

import duckdb
import pytest

from fiscal_intel.assets.staging import STAGED_TABLES
from fiscal_intel.validation.gx import load_suite_json, validate_frame
from fiscal_intel.validation.pushdown import Unsupported, compile_suite, validate_table


def _plant(con: duckdb.DuckDBPyConnection, table: str, suite: dict) -> None:
    """Break every expectation of ``suite`` on a few rows of ``table`` (a local copy)."""
    n = con.execute(f"select count(*) from {table}").fetchone()[0]
    assert n >= 20, table
    for i, expectation in enumerate(suite["expectations"]):
        kw = expectation["kwargs"]
        kind = expectation["type"]
        row = f"rowid = {(7 * i + 3) % n}"
        col = f'"{kw["column"]}"' if "column" in kw else None
        if kind == "expect_column_values_to_not_be_null":
            con.execute(f"update {table} set {col} = null where {row}")
        elif kind == "expect_column_values_to_be_between":
            bound = kw.get("max_value") if kw.get("max_value") is not None else kw["min_value"]
            step = 1 if kw.get("max_value") is not None else -1
            con.execute(f"update {table} set {col} = {bound} + {step} where {row}")
            con.execute(f"update {table} set {col} = null where rowid = {(7 * i + 5) % n}")
        elif kind == "expect_column_values_to_be_in_set":
            con.execute(f"update {table} set {col} = 'not-a-choice' where {row}")
        elif kind == "expect_column_values_to_match_regex":
            con.execute(f"update {table} set {col} = 'x' || {col}::varchar where {row}")
        elif kind == "expect_column_values_to_be_unique":
            con.execute(
                f"update {table} set {col} = (select {col} from {table} where rowid = 0) "
                f"where rowid in (1, 2)"
            )
        elif kind == "expect_compound_columns_to_be_unique":
            nulls = ", ".join(f'"{c}" = null' for c in kw["column_list"])
            con.execute(f"insert into {table} select * from {table} where rowid = 4")
            con.execute(f"update {table} set {nulls} where rowid in (5, 6)")
        elif kind == "expect_column_pair_values_a_to_be_greater_than_b":
            a, b = f'"{kw["column_A"]}"', f'"{kw["column_B"]}"'
            con.execute(f"update {table} set {a} = {b} - 1 where {row} and {b} is not null")
            con.execute(f"update {table} set {a} = null where rowid = {(7 * i + 9) % n}")
            con.execute(
                f"update {table} set {a} = null, {b} = null where rowid = {(7 * i + 11) % n}"
            )


@pytest.fixture(scope="module")
def campaign_staging(campaign_run) -> str:
    """Staging of the session demo's municipality with its planted past campaign (the session's
    ``campaign_run``, tests/conftest.py): the session demo is generated without one, so its
    ``stg_actions`` is empty and nothing could be planted."""
    return str(campaign_run["warehouse"])


@pytest.mark.parametrize("table", STAGED_TABLES)
def test_pushdown_agrees_with_gx(demo_run, request: pytest.FixtureRequest, table: str) -> None:
    suite = load_suite_json(table)
    compile_suite(suite)  # every shipped suite compiles
    warehouse = str(demo_run["warehouse"])
    with duckdb.connect(warehouse, read_only=True) as probe:
        if probe.execute(f"select count(*) from staging.{table}").fetchone()[0] < 20:
            warehouse = request.getfixturevalue("campaign_staging")
    con = duckdb.connect()
    con.execute(f"attach '{warehouse}' as w (read_only)")
    con.execute(f"create table t as select * from w.staging.{table}")
    for planted in (False, True):
        if planted:
            _plant(con, "t", suite)
        sql = validate_table(con, "t", suite)
        gx = validate_frame(con.execute("select * from t").df(), suite)
        assert sql.rows == gx.rows
        pairs = list(zip(sql.outcomes, gx.outcomes, strict=True))
        for ours, theirs in pairs:
            assert ours.expectation == theirs.expectation
            assert (ours.success, ours.unexpected_count or 0) == (
                theirs.success,
                theirs.unexpected_count or 0,
            ), (table, planted, ours, theirs)
        assert sql.success == gx.success
        if planted:
            assert not sql.success


def test_unknown_expectation_is_refused() -> None:
    suite = {"name": "x", "expectations": [{"type": "expect_column_kl_divergence", "kwargs": {}}]}
    with pytest.raises(Unsupported):
        compile_suite(suite)


def test_large_tables_are_validated_in_sql_with_gx_on_a_sample(demo_run, monkeypatch) -> None:
    from fiscal_intel.assets import checks

    monkeypatch.setattr(checks, "GX_SAMPLE_ROWS", 100)
    seen: list[int] = []
    real = validate_frame

    def spy(df, suite):
        seen.append(len(df))
        return real(df, suite)

    monkeypatch.setattr("fiscal_intel.validation.gx.validate_frame", spy)
    con = duckdb.connect()
    con.execute(f"attach '{demo_run['warehouse']}' as w (read_only)")
    con.execute("create schema staging")
    con.execute("create table staging.stg_payments as select * from w.staging.stg_payments")
    rows = con.execute("select count(*) from staging.stg_payments").fetchone()[0]
    clean = checks.validate_staged(con, "stg_payments")
    assert clean.success and clean.rows == rows
    assert 0 < seen[-1] < rows  # GX saw a sample, the SQL every row
    again = checks.validate_staged(con, "stg_payments")
    assert seen[-1] == seen[-2] and again == clean  # the same sample every time
    # Two rows among thousands share a payment id: a sample would likely miss the pair, the
    # full scan does not.
    con.execute(
        "update staging.stg_payments set payment_id = "
        "(select payment_id from staging.stg_payments where rowid = 3000) where rowid = 17"
    )
    broken = checks.validate_staged(con, "stg_payments")
    assert not broken.success
    assert [(f.expectation, f.unexpected_count) for f in broken.failures] == [
        ("expect_column_values_to_be_unique", 2)
    ]
