"""Evaluation on the demo run: no leakage (features as of a date use nothing dated after it),
the backtest and model card, the ground-truth performance mart, the burden mart, and the
capacity-split export."""

from __future__ import annotations

import datetime as dt
import shutil

import duckdb
import polars as pl
import pytest

from fiscal_intel.cli import evaluate, main
from fiscal_intel.resources import build_resources
from fiscal_intel.scoring.evaluation import PROGRAMS, features_as_of
from fiscal_intel.sqlfiles import install_macros


def _truncate_at(con: duckdb.DuckDBPyConnection, cutoff: dt.date) -> None:
    """Make the warehouse look as it did on ``cutoff``: every dated event after it removed
    (returns and corrections filed, payments, reteICA bimesters, registrations, audits opened),
    cancellations after it undone, and audits still open then without their outcome."""
    c = {"c": cutoff}
    con.execute("delete from raw.declarations where filed_on > $c", c)
    con.execute("delete from staging.stg_payments where paid_on > $c", c)
    con.execute(
        "delete from staging.stg_withholdings "
        "where last_day(make_date(tax_year::int, period::int * 2, 1)) > $c",
        c,
    )
    con.execute("delete from staging.stg_taxpayers where registered_on > $c", c)
    con.execute("delete from staging.stg_commerce_registry where registered_on > $c", c)
    con.execute(
        "update staging.stg_commerce_registry set cancelled_on = null, status = 'ACTIVA' "
        "where cancelled_on > $c",
        c,
    )
    con.execute("delete from staging.stg_audits where opened_on > $c", c)
    con.execute(
        "update staging.stg_audits set closed_on = null, outcome = null, assessed_amount = null "
        "where closed_on > $c",
        c,
    )


@pytest.fixture(scope="module")
def settings_resource(demo_run):
    return build_resources(demo_run["settings"])["settings"]


def test_features_as_of_a_date_use_nothing_after_it(demo_run, settings_resource, tmp_path):
    """Features built as of a past date on all the data equal the features built on the data
    as it stood on that date: whatever happened later (returns, corrections, payments, reteICA,
    registrations, audit outcomes) cannot reach them."""
    full = tmp_path / "full.duckdb"
    shutil.copy(demo_run["warehouse"], full)
    with duckdb.connect(str(full)) as con:
        install_macros(con)
        as_of = con.execute("select as_of from staging.as_of_date").fetchall()[0][0]
        cutoff = as_of - dt.timedelta(days=540)
        params = settings_resource.sql_params()
        then = features_as_of(con, cutoff, params)
        future = con.execute(
            "select count(*) from raw.declarations where filed_on > $c", {"c": cutoff}
        ).fetchall()[0][0]
        assert future > 100  # the later data really is there, and is ignored
        _truncate_at(con, cutoff)
        seen_then = features_as_of(con, cutoff, params)
    for program in PROGRAMS:
        a = then[program].sort(["nit", "tax_year"])
        b = seen_then[program].sort(["nit", "tax_year"])
        assert a.height > 100, program
        assert a.equals(b), program
        assert (a["audit_closed_on"].drop_nulls() <= cutoff).all()
        assert (a.filter(pl.col("is_candidate"))["statute_expires_on"] >= cutoff).all()


def test_backtest_and_model_card(demo_run) -> None:
    with duckdb.connect(str(demo_run["warehouse"]), read_only=True) as con:
        backtest = con.sql("select * from scoring.backtest").pl()
        card = con.sql("select * from marts.model_card order by program").pl()
        audits = con.sql("select * from staging.stg_audits").pl()
    cutoff = backtest["cutoff"][0]
    assert backtest["cutoff"].n_unique() == 1
    # every held-out case is an audit opened after the cut-off, scored by a model that saw
    # none of the audits it is judged on
    held = audits.filter(pl.col("opened_on") > cutoff).select("nit", "tax_year", "program")
    assert backtest.join(held, on=["nit", "tax_year", "program"], how="anti").height == 0
    assert set(card["program"]) == {"omiso", "inexacto"}
    for row in card.iter_rows(named=True):
        # closed audits only: a case in progress is no label
        closed = audits.filter(
            (pl.col("program") == row["program"]) & pl.col("closed_on").is_not_null()
        )
        assert row["training_audits"] == closed.height
        assert row["training_random_audits"] == (closed["selection"] == "random").sum()
        assert row["trained_to"] <= row["as_of"]
        assert row["backtest_cutoff"] == cutoff
        assert row["held_out_audits"] > 0 and row["random_audits"] >= 0
        assert row["top_features"] and "%" in row["top_features"]
        assert row["held_out_predicted_yield"] > 0
        assert (row["late_filing_rows"] > 0) == (row["program"] == "omiso")


def test_model_performance_against_the_truth(demo_run, tmp_path) -> None:
    warehouse = tmp_path / "w.duckdb"
    shutil.copy(demo_run["warehouse"], warehouse)
    settings = demo_run["settings"].replace(
        warehouse=str(warehouse),
        truth=str(demo_run["truth"] / "tax_gap.csv"),
    )
    perf = evaluate(settings).filter(pl.col("evaluated_on") == "truth_file")
    assert set(perf["program"]) == {"omiso", "inexacto"}
    assert set(perf["method"]) == {"model", "rule", "random"}
    assert ((perf["precision_at_k"] >= 0) & (perf["precision_at_k"] <= 1)).all()
    assert (perf["gap_found"] <= perf["best_possible"] + 1e-6).all()
    at50 = {
        (r["program"], r["method"]): r["recovery_at_k"]
        for r in perf.filter(pl.col("k") == 50).iter_rows(named=True)
    }
    for program in ("omiso", "inexacto"):
        assert at50[(program, "model")] > 3 * at50[(program, "random")], program
    # the mart agrees with a direct computation from the ranking and the truth file
    with duckdb.connect(str(warehouse), read_only=True) as con:
        ranking = con.sql("select * from marts.audit_ranking where program = 'inexacto'").pl()
    truth = pl.read_csv(demo_run["truth"] / "tax_gap.csv", schema_overrides={"nit": pl.Utf8})
    joined = ranking.join(
        truth.filter(pl.col("program") == "inexacto").select("nit", "tax_year", "true_gap"),
        on=["nit", "tax_year"],
        how="left",
    ).with_columns(pl.col("true_gap").fill_null(0))
    top = joined.filter(pl.col("rank") <= 50)
    best = joined["true_gap"].sort(descending=True).head(50).sum()
    row = perf.filter(
        (pl.col("program") == "inexacto") & (pl.col("method") == "model") & (pl.col("k") == 50)
    )
    assert row["precision_at_k"][0] == pytest.approx((top["true_gap"] > 0).mean())
    assert row["recovery_at_k"][0] == pytest.approx(top["true_gap"].sum() / best)
    # the command line does the same and says how it went
    assert main(["evaluate", "--warehouse", str(warehouse), "--truth",
                 str(demo_run["truth"] / "tax_gap.csv")]) == 0
    assert main(["evaluate", "--warehouse", str(warehouse), "--truth",
                 str(tmp_path / "missing.csv")]) == 1


def test_burden_accounts_for_every_open_case(demo_run) -> None:
    capacity = demo_run["settings"].audit_capacity
    with duckdb.connect(str(demo_run["warehouse"]), read_only=True) as con:
        burden = con.sql("select * from marts.audit_burden").pl()
        counts = dict(
            con.execute("select program, count(*) from marts.audit_ranking group by 1").fetchall()
        )
    assert set(burden["dimension"]) == {"size_band", "ciiu_section", "comuna"}
    for (program, _), g in burden.group_by(["program", "dimension"]):
        assert g["open_cases"].sum() == counts[program]
        assert g["selected"].sum() == min(capacity, counts[program])
        small = g.filter(pl.col("taxpayers") < demo_run["settings"].min_cell_taxpayers)
        assert (small["group"] == "(other)").all()  # tax secrecy: no small named cell


def test_audit_list_split_across_inspectors(demo_run, tmp_path) -> None:
    out = tmp_path / "inspectores.xlsx"
    args = ["audit-list", "--warehouse", str(demo_run["warehouse"]), "--program", "omiso",
            "--inspectors", "3", "--cases-per-inspector", "4", "--out", str(out)]
    assert main(args) == 0
    sheets = pl.read_excel(out, sheet_id=0, engine="openpyxl")
    assert list(sheets) == ["Inspector 1", "Inspector 2", "Inspector 3", "Acerca de"]
    del sheets["Acerca de"]
    every = pl.concat(list(sheets.values()))
    assert every.height == 12 and all(s.height == 4 for s in sheets.values())
    assert {"NIT", "Razón social", "Año gravable", "Recaudo esperado (COP)", "Motivos",
            "Vence la firmeza"} <= set(every.columns)
    assert sorted(every["Posición"].to_list()) == list(range(1, 13))
    # a taxpayer's open years go to one inspector (when they fit in one workload)
    nit_sheets = pl.concat(
        [s.select("NIT").with_columns(sheet=pl.lit(name)) for name, s in sheets.items()]
    ).group_by("NIT").agg(pl.len().alias("cases"), pl.col("sheet").n_unique())
    assert (nit_sheets.filter(pl.col("cases") <= 4)["sheet"] == 1).all()
    assert main(args[:-4] + ["--inspectors", "3", "--out", str(out)]) == 1
