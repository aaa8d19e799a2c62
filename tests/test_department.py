"""Issue #19: a department landing (one subfolder per DANE code) run into one warehouse per
municipality, a municipality's bad file failing it alone, and department.duckdb holding only
aggregates under the small-cell rule."""

from __future__ import annotations

import duckdb
from conftest import DEPARTMENT_BROKEN, DEPARTMENT_GOOD

from fiscal_intel.cli import main
from fiscal_intel.leadership import IDENTIFYING_COLUMNS, SECRECY


def test_each_municipality_its_own_warehouse_and_failures_named(department, capsys) -> None:
    wh = department["wh"]
    assert department["exit"] == 1
    failed = [line for line in department["stderr"].splitlines() if "municipality" in line]
    assert len(failed) == 2
    assert f"municipality {DEPARTMENT_BROKEN} failed" in failed[0] and "broken.xlsx" in failed[0]
    assert "municipality 99999 failed" in failed[1] and "DIVIPOLA" in failed[1]
    for code in DEPARTMENT_GOOD:
        with duckdb.connect(str(wh / f"{code}.duckdb"), read_only=True) as con:
            assert con.execute("select count(*) from marts.revenue_yearly").fetchall()[0][0] > 0
            # The run knew which municipality it served.
            status = con.execute("select status from ops.run_log").fetchall()
            assert status == [("success",)]
    with duckdb.connect(str(wh / "department.duckdb"), read_only=True) as con:
        rows = dict(
            con.execute(
                "select municipality_code, status from marts.municipalities"
            ).fetchall()
        )
    assert rows == {
        **dict.fromkeys(DEPARTMENT_GOOD, "success"), DEPARTMENT_BROKEN: "failed", "99999": "failed"
    }
    # The broken municipality's run stopped at its own file; the others were not touched by it.
    with duckdb.connect(str(wh / f"{DEPARTMENT_BROKEN}.duckdb"), read_only=True) as con:
        status = con.execute("select status, message from ops.run_log").fetchall()
    assert status[0][0] == "failed" and "broken.xlsx" in status[0][1]


def test_department_view_only_aggregates_above_threshold(department) -> None:
    from fiscal_intel.settings import load_settings

    threshold = load_settings().min_cell_taxpayers
    with duckdb.connect(str(department["wh"] / "department.duckdb"), read_only=True) as con:
        columns = con.execute(
            "select table_name, column_name from information_schema.columns "
            "where table_schema = 'marts'"
        ).fetchall()
        tables = {t for t, _ in columns}
        assert {"municipality_summary", "revenue_yearly", "tax_gap", "arrears"} <= tables
        names = {c for _, c in columns}
        assert not names & IDENTIFYING_COLUMNS
        # Nor anything like one: a NIT, a name (but the municipality's), a matrícula, a case id.
        suspicious = {
            c for c in names
            if {"nit", "dv", "matricula", "name"} & set(c.split("_")) or "case_id" in c
        } - {"municipality_name"}  # fmt: skip
        assert not suspicious
        # Only the built municipalities have figures.
        assert con.execute(
            "select distinct municipality_code from marts.revenue_yearly order by 1"
        ).fetchall() == [(c,) for c in sorted(DEPARTMENT_GOOD)]
        for table, figures in SECRECY.items():
            if table not in tables:
                continue
            for figure, count in figures.items():
                small = con.execute(
                    f"select count(*) from marts.{table} where {figure} is not null "
                    f"and {count} > 0 and {count} < ?",
                    [threshold],
                ).fetchall()[0][0]
                assert small == 0, f"{table}.{figure} shown for fewer than {threshold}"
        summary = con.execute(
            "select municipality_code, payers, filers, arrears_debtors from "
            "marts.municipality_summary where status = 'success'"
        ).fetchall()
    assert len(summary) == len(DEPARTMENT_GOOD)
    for _, *counts in summary:
        assert all(c is None or c == 0 or c >= threshold for c in counts)


def test_department_arguments_refused(department, capsys) -> None:
    landing, wh = str(department["landing"]), str(department["root"] / "other")
    assert main(["run", "--landing", landing]) == 2
    assert "--warehouse-dir" in capsys.readouterr().err
    only = ["--municipality", "05001"]
    assert main(["run", "--landing", landing, "--warehouse-dir", wh, *only]) == 2
    assert "05001" in capsys.readouterr().err


def test_department_plan_is_seeded_and_wraps_the_generator() -> None:
    from fiscal_intel.demo.department import department_plan

    plan = department_plan(21, city_taxpayers=15_000)
    assert plan == department_plan(21, city_taxpayers=15_000)
    assert plan[0] == ("05615", 15_000, 19_000)
    assert all(300 <= n <= 3_000 for _, n, _ in plan[1:])
    assert len({code for code, _, _ in plan}) == 21


def test_department_report_compares_the_municipalities(department) -> None:
    page = (department["wh"] / "department.html").read_text(encoding="utf-8")
    assert "municipios del departamento" in page and "reserva tributaria" in page
    for name in ("RIONEGRO (ANTIOQUIA) (05615)", "ABEJORRAL (ANTIOQUIA) (05002)"):
        assert name in page
    assert "falló" in page  # the broken municipality is listed, without figures
    assert "<script" not in page


def test_a_municipality_not_run_keeps_its_place(department, tmp_path) -> None:
    """With --municipality, the others enter department.duckdb as their last run left them."""
    from fiscal_intel.department.marts import build_department
    from fiscal_intel.department.runner import previous_result
    from fiscal_intel.settings import load_settings

    kept = previous_result("05615", department["wh"])
    assert kept is not None and kept.status == "success"
    assert previous_result("05030", tmp_path) is None  # never built there
    out = build_department(tmp_path, [kept], load_settings())
    with duckdb.connect(str(out), read_only=True) as con:
        assert con.execute(
            "select distinct municipality_code from marts.revenue_yearly"
        ).fetchall() == [("05615",)]


def test_generated_department_varies_its_municipalities(tmp_path) -> None:
    """The department mode: the city in the base world, each small municipality with its own
    sector mix, audit rate and evader rate, drawn from its seed (same plan, same bytes), and
    small offices with few closed audits."""
    import json

    import polars as pl

    from fiscal_intel.demo.department import (
        department_plan,
        department_worlds,
        generate_department,
    )
    from fiscal_intel.demo.worlds import World
    from fiscal_intel.ingest.places import divipola

    plan = department_plan(4, city_taxpayers=600, small=(150, 300), seed=5)
    worlds = department_worlds(plan)
    assert worlds[plan[0][0]] == World()
    small = [worlds[code] for code, _, _ in plan[1:]]
    assert len({w.audit_rate for w in small}) == 3 and len({w.section_weights for w in small}) == 3
    assert all(0.12 <= w.audit_rate <= 0.8 and 0.6 <= w.evader_rate <= 1.5 for w in small)
    assert all(code in divipola().by_code for code, _, _ in plan)
    generate_department(tmp_path / "a", tmp_path / "ta", plan)
    generate_department(tmp_path / "b", tmp_path / "tb", plan)
    closed = {}
    for code, _, _ in plan:
        audits = tmp_path / "a" / code / "audits" / "audits.csv"
        assert audits.read_bytes() == (tmp_path / "b" / code / "audits" / "audits.csv").read_bytes()
        frame = pl.read_csv(audits, infer_schema=False)
        closed[code] = frame.filter(pl.col("closed_on").is_not_null()).height
        manifest = json.loads((tmp_path / "ta" / code / "manifest.json").read_text())
        assert ("world_spec" in manifest["args"]) == (code != plan[0][0])
    # Offices that audit less: per taxpayer, every small one closed fewer audits than the city.
    city_rate = closed[plan[0][0]] / plan[0][1]
    assert all(closed[code] / n < city_rate for code, n, _ in plan[1:])
    assert min(closed[code] for code, _, _ in plan[1:]) < 50
