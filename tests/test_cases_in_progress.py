"""Audit cases in progress (issue #14, requirement 1): an audits row without ``closed_on`` loads,
takes its NIT and year out of the lists, shows in ``marts.cases_in_progress`` and is no label;
its closed row supersedes it whatever the file order, and then it is a label."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from fiscal_intel.ingest import loader
from fiscal_intel.ingest.loader import load_source
from fiscal_intel.ingest.sources import SOURCES
from fiscal_intel.sqlfiles import run_sql

HEADER = "case_id,nit,tax_year,program,selection,opened_on,closed_on,outcome,assessed_amount\n"


def _audits(folder: Path, name: str, rows: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")


def _stage(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    con.execute("create schema if not exists staging")
    run_sql(con, "staging/stg_audits")
    return con.sql(
        "select case_id, status, closed_on, outcome, assessed_amount::double as amount "
        "from staging.stg_audits order by case_id"
    ).pl()


@pytest.fixture(params=[True, False], ids=["duckdb-csv", "careful-reader"])
def wh(request, tmp_path: Path, monkeypatch):
    monkeypatch.setattr(loader, "FAST_CSV", request.param)
    c = duckdb.connect(str(tmp_path / "w.duckdb"))
    yield c
    c.close()


def test_open_cases_load_and_half_open_rows_are_quarantined(wh, tmp_path: Path) -> None:
    folder = tmp_path / "landing" / "audits"
    _audits(
        folder,
        "casos.csv",
        [
            "K-1,900111222,2022,inexacto,risk,2023-09-01,,,",  # in progress
            "K-2,900333444,2022,omiso,,2023-09-01,,,0",  # in progress; 0 is "nothing yet"
            "K-3,900333444,2021,omiso,risk,2023-09-01,,adjusted,100000",  # outcome, still open
            "K-4,900333444,2020,omiso,risk,2023-09-01,,,5000",  # amount, still open
            "K-5,900111222,2021,inexacto,risk,2023-09-01,2024-01-10,,0",  # closed, no outcome
            "K-6,900111222,2020,inexacto,risk,2023-09-01,2024-01-10,no_finding,",  # no amount
            "K-7,900111222,2019,inexacto,random,2023-09-01,2024-01-10,adjusted,2000000",
        ],
    )
    (f,) = load_source(wh, SOURCES["audits"], folder).files
    assert (f.status, f.rows_read, f.rows_loaded, f.rows_quarantined) == ("loaded", 7, 3, 4)
    reasons = dict(
        wh.execute("select row_number, reason from ops.quarantine order by 1").fetchall()
    )
    assert reasons == {
        3: "outcome 'adjusted' given but closed_on is empty (a case in progress has no outcome "
        "yet); assessed_amount '100000' given but closed_on is empty (a case in progress has no "
        "amount yet)",
        4: "assessed_amount '5000' given but closed_on is empty (a case in progress has no "
        "amount yet)",
        5: "outcome is empty (a closed case needs its outcome)",
        6: "assessed_amount is empty (a closed case needs it: 0 when no_finding)",
    }
    staged = _stage(wh)
    assert staged.rows() == [
        ("K-1", "open", None, None, None),
        ("K-2", "open", None, None, None),  # the 0 of an open case is no amount
        ("K-7", "closed", dt.date(2024, 1, 10), "adjusted", 2_000_000.0),
    ]


@pytest.mark.parametrize("closed_first", [True, False])
def test_the_closed_row_supersedes_the_open_one_whatever_the_order(
    wh, tmp_path: Path, closed_first: bool
) -> None:
    """The office exports the case open, later closed; a rebuild may read the files in any order
    (file names sort either way): the closed row wins, and a copy of the open row loaded after it
    does not reopen the case."""
    folder = tmp_path / "landing" / "audits"
    open_rows = ["K-1,900111222,2022,inexacto,risk,2023-09-01,,,", "K-2,900333444,2022,omiso,,"
                 "2023-10-01,,,"]
    closed_rows = ["K-1,900111222,2022,inexacto,risk,2023-09-01,2024-03-01,adjusted,1500000"]
    first, second = ("a", "b") if closed_first else ("b", "a")
    _audits(folder, f"{first}_cerrados.csv", closed_rows)
    _audits(folder, f"{second}_abiertos.csv", open_rows)
    # Files load in the order of their modification time (then name): date the closed export
    # before or after the open one, so both load orders really happen.
    older, newer = (("cerrados", "abiertos") if closed_first else ("abiertos", "cerrados"))
    for offset, kind in ((0, older), (60, newer)):
        (path,) = folder.glob(f"*_{kind}.csv")
        os.utime(path, (1_700_000_000 + offset, 1_700_000_000 + offset))
    load_source(wh, SOURCES["audits"], folder)
    order = [r[0] for r in wh.execute("select file from ops.load_log order by batch_id").fetchall()]
    assert order[0].endswith(f"_{older}.csv")  # the files really were loaded in both orders
    assert _stage(wh).rows() == [
        ("K-1", "closed", dt.date(2024, 3, 1), "adjusted", 1_500_000.0),
        ("K-2", "open", None, None, None),
    ]


# --------------------------------------------------------------------------------------------
# On the demo: open cases on the top of both lists, run again, then closed.
# --------------------------------------------------------------------------------------------
def _run(landing: Path, warehouse: Path) -> None:
    from fiscal_intel.runner import run_pipeline
    from fiscal_intel.settings import load_settings

    run_pipeline(load_settings(landing=str(landing), warehouse=str(warehouse)))  # raises if not


def _open_rows(picked: list[tuple], opened: dt.date) -> list[str]:
    return [
        f"ABIERTO-{i},{nit},{year},{program},risk,{opened.isoformat()},,,"
        for i, (program, nit, year) in enumerate(picked, 1)
    ]


@pytest.fixture(scope="module")
def reruns(demo_run, tmp_path_factory):
    """The demo warehouse run again with open cases on ranks 1-3 of each list, then with those
    cases closed (a later export of the office)."""
    root = tmp_path_factory.mktemp("cases")
    landing = root / "landing"
    shutil.copytree(demo_run["landing"], landing)
    warehouse = root / "warehouse.duckdb"
    shutil.copy(demo_run["warehouse"], warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        as_of = con.execute("select as_of from staging.as_of_date").fetchall()[0][0]
        before = con.sql("select * from marts.audit_ranking").pl()
        in_progress = con.sql("select * from marts.cases_in_progress").pl()  # the demo's own
        versions = dict(
            con.execute("select program, model_version from scoring.risk_models").fetchall()
        )
        train_rows = dict(
            con.execute("select program, train_rows from scoring.risk_models").fetchall()
        )
        training = {
            p: con.sql(
                f"select nit, tax_year from features.{p}_features "
                "where label_adjusted is not null order by all"
            ).pl()
            for p in ("omiso", "inexacto")
        }
    picked = [
        (r["program"], r["nit"], r["tax_year"])
        for r in before.filter(pl.col("rank") <= 3).sort("program", "rank").to_dicts()
    ]
    opened = as_of - dt.timedelta(days=40)
    _audits(landing / "audits", "casos_abiertos.csv", _open_rows(picked, opened))
    _run(landing, warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        after_open = {
            "as_of": con.execute("select as_of from staging.as_of_date").fetchall()[0][0],
            "ranking": con.sql("select * from marts.audit_ranking").pl(),
            "mart": con.sql("select * from marts.cases_in_progress").pl(),
            "versions": dict(
                con.execute("select program, model_version from scoring.risk_models").fetchall()
            ),
            "training": {
                p: con.sql(
                    f"select nit, tax_year from features.{p}_features "
                    "where label_adjusted is not null order by all"
                ).pl()
                for p in ("omiso", "inexacto")
            },
        }
    # The office closes them: the export that carries them closed sorts before the open one.
    closed_on = as_of - dt.timedelta(days=5)
    _audits(
        landing / "audits",
        "00_casos_cerrados.csv",
        [
            f"ABIERTO-{i},{nit},{year},{program},risk,{opened.isoformat()},"
            f"{closed_on.isoformat()},adjusted,{1_000_000 * i}"
            for i, (program, nit, year) in enumerate(picked, 1)
        ],
    )
    _run(landing, warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        after_close = {
            "ranking": con.sql("select * from marts.audit_ranking").pl(),
            "mart": con.sql("select * from marts.cases_in_progress").pl(),
            "labels": {
                p: con.sql(
                    f"select nit, tax_year, label_adjusted, label_amount from features.{p}_features"
                    " where label_adjusted is not null"
                ).pl()
                for p in ("omiso", "inexacto")
            },
            "train_rows": dict(
                con.execute("select program, train_rows from scoring.risk_models").fetchall()
            ),
        }
    return {
        "as_of": as_of,
        "before": before,
        "in_progress": in_progress,
        "versions": versions,
        "train_rows": train_rows,
        "training": training,
        "picked": picked,
        "opened": opened,
        "open": after_open,
        "closed": after_close,
    }


def _keys(frame: pl.DataFrame) -> set[tuple]:
    return set(frame.select("program", "nit", "tax_year").iter_rows())


def _on(frame: pl.DataFrame, cases: set[tuple], how: str = "semi") -> pl.DataFrame:
    """The rows of ``frame`` on these (nit, tax_year) (``how="anti"``: the others)."""
    keys = pl.DataFrame(list(cases), schema=["nit", "tax_year"], orient="row").with_columns(
        pl.col("tax_year").cast(frame.schema["tax_year"])
    )
    return frame.join(keys, on=["nit", "tax_year"], how=how, maintain_order="left")


def test_open_cases_leave_the_lists_and_nothing_else_moves(reruns) -> None:
    picked = set(reruns["picked"])
    before, after = reruns["before"], reruns["open"]["ranking"]
    assert len(picked) == 6 and picked <= _keys(before)
    assert reruns["open"]["as_of"] == reruns["as_of"]
    # Gone from both lists: a case in progress takes its NIT and year out of either program.
    gone = {(n, y) for _, n, y in picked}
    assert _on(after, gone).height == 0
    # Every other case keeps its score, in the same order (ranks close up over the gap).
    rest = _on(before, gone, "anti")
    cols = ["program", "nit", "tax_year", "risk_score", "expected_recovery", "model_version"]
    assert after.select(cols).equals(rest.select(cols))


def test_open_cases_are_not_labels_and_leave_the_models_as_they_were(reruns) -> None:
    for program in ("omiso", "inexacto"):
        assert reruns["open"]["training"][program].equals(reruns["training"][program])
    assert reruns["open"]["versions"] == reruns["versions"]


def test_the_mart_shows_days_open_and_days_left_from_the_as_of_date(reruns) -> None:
    assert reruns["in_progress"].height >= 3  # the demo plants some too
    # days open count from the as-of date, which the cases themselves did not move
    mart, as_of = reruns["open"]["mart"], reruns["as_of"]
    assert mart.join(reruns["in_progress"], on="case_id", how="semi").equals(reruns["in_progress"])
    mart = mart.filter(pl.col("case_id").str.starts_with("ABIERTO-"))
    assert mart.height == 6
    assert set(mart.select("program", "nit", "tax_year").iter_rows()) == set(reruns["picked"])
    assert (mart["days_open"] == (as_of - reruns["opened"]).days).all()
    before = reruns["before"].select("program", "nit", "tax_year", "statute_expires_on")
    joined = mart.join(before, on=["program", "nit", "tax_year"], suffix="_list")
    # the statute the list showed for the case, and the days left counted from the as-of date
    assert joined["statute_expires_on"].equals(joined["statute_expires_on_list"])
    for row in joined.iter_rows(named=True):
        assert row["days_left"] == (row["statute_expires_on"] - as_of).days
    assert mart["days_left"].is_sorted()
    assert mart["legal_name"].null_count() == 0


def test_closed_later_they_become_labels(reruns) -> None:
    closed = reruns["closed"]
    assert closed["mart"].equals(reruns["in_progress"])  # only the demo's own are left
    for program in ("omiso", "inexacto"):
        mine = {(n, y) for p, n, y in reruns["picked"] if p == program}
        labels = _on(closed["labels"][program], mine)
        assert labels.height == len(mine) == 3
        assert labels["label_adjusted"].all()
        assert closed["train_rows"][program] == reruns["train_rows"][program] + 3
    assert not _keys(closed["ranking"]) & set(reruns["picked"])
