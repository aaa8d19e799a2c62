"""``department.duckdb``: what a department may see of its municipalities, aggregates only.

It is built from each municipality's leadership marts, which already hold only cells of at
least ``min_cell_taxpayers`` taxpayers that pass the dominance rule; figures are rounded the
way the leadership export rounds them (``leadership.export.published_columns``). No
taxpayer-level table is read: a NIT, name, matrícula or case id never leaves a municipality's
file. No department-wide total is published beside the municipalities' figures: a total minus
the shown cells would give back a suppressed one (differencing).
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from fiscal_intel.leadership import IDENTIFYING_COLUMNS, LEADERSHIP_MARTS
from fiscal_intel.leadership.export import published_columns
from fiscal_intel.published import published_path

# The department's file, beside the municipalities' warehouses in --warehouse-dir.
DEPARTMENT_FILE = "department.duckdb"

# One row per municipality: the figures a department compares, each from a secrecy-checked
# leadership mart of that municipality (sums of shown cells only: a suppressed cell is null).
SUMMARY = """
create table marts.municipality_summary as
with m as (
    select municipality_code, municipality_name, status from marts.municipalities
),
actual as (
    select municipality_code, target_year as last_year, actual as collected, payers
    from marts.revenue_forecast
    where kind = 'actual'
    qualify row_number() over (partition by municipality_code order by target_year desc) = 1
),
compliance as (
    select municipality_code, tax_year as compliance_year, obliged, filers, filing_rate,
        on_time_rate
    from marts.compliance_yearly
    qualify row_number() over (partition by municipality_code order by tax_year desc) = 1
),
arrears as (
    select municipality_code, sum(outstanding) as arrears_outstanding,
        sum(debtors) as arrears_debtors
    from marts.arrears
    group by municipality_code
),
audits as (
    select municipality_code, sum(cases_closed) as audits_closed,
        sum(adjusted_cases) as audits_adjusted, sum(assessed) as audit_assessed
    from marts.audit_yield
    where program <> 'total'
    group by municipality_code
),
gap as (
    select municipality_code, sum(annual_gap) as tax_gap_annual,
        sum(sample_cases) as tax_gap_sample_cases
    from marts.tax_gap
    where method = 'ratio_to_declared'
    group by municipality_code
),
forecast as (
    select municipality_code, target_year as forecast_year, forecast as forecast_collected,
        lower_95 as forecast_lower_95, upper_95 as forecast_upper_95
    from marts.revenue_forecast
    where kind = 'forecast' and method = 'model'
    qualify row_number() over (partition by municipality_code order by target_year) = 1
)
select m.*,
    actual.* exclude (municipality_code),
    compliance.* exclude (municipality_code),
    arrears.* exclude (municipality_code),
    audits.* exclude (municipality_code),
    gap.* exclude (municipality_code),
    forecast.* exclude (municipality_code)
from m
left join actual using (municipality_code)
left join compliance using (municipality_code)
left join arrears using (municipality_code)
left join audits using (municipality_code)
left join gap using (municipality_code)
left join forecast using (municipality_code)
order by municipality_code
"""


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def build_department(warehouse_dir: Path, results: list, settings) -> Path:
    """Write ``<warehouse_dir>/department.duckdb`` from the municipalities that built their
    marts (status success or incomplete); the file is swapped in whole at the end."""
    out = Path(warehouse_dir) / DEPARTMENT_FILE
    tmp = out.with_name(f".{out.name}.tmp")
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)
    built = [r for r in results if r.status in ("success", "incomplete")]
    try:
        with duckdb.connect(str(tmp)) as con:
            con.execute("create schema marts")
            con.execute(
                "create table marts.municipalities (municipality_code varchar, "
                "municipality_name varchar, status varchar)"
            )
            con.executemany(
                "insert into marts.municipalities values (?, ?, ?)",
                [[r.code, r.name, r.status] for r in results],
            )
            created: set[str] = set()
            for i, r in enumerate(built):
                alias = f"m{i}"
                # The published copy, which readers open, when the run made one.
                source = published_path(Path(r.warehouse))
                source = source if source.is_file() else Path(r.warehouse)
                con.execute(f"attach {_literal(source)} as {alias} (read_only)")
                try:
                    _copy_marts(con, alias, r, settings.secrecy_rounding_cop, created)
                finally:
                    con.execute(f"detach {alias}")
            if not built:
                return _swap(tmp, out)
            con.execute(SUMMARY)
            leaked = {
                c
                for (c,) in con.execute(
                    "select distinct column_name from information_schema.columns "
                    "where table_schema = 'marts'"
                ).fetchall()
            } & IDENTIFYING_COLUMNS
            if leaked:
                raise ValueError(
                    f"department marts would hold identifying columns {sorted(leaked)}"
                )
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return _swap(tmp, out)


def _swap(tmp: Path, out: Path) -> Path:
    os.replace(tmp, out)
    return out


def _copy_marts(
    con: duckdb.DuckDBPyConnection, alias: str, result, rounding: int, created: set[str]
) -> None:
    """Append municipality ``result``'s marts (attached as ``alias``) to the department's;
    ``created``: the marts already created here (the first municipality to have one creates it)."""
    for table in LEADERSHIP_MARTS:
        select = published_columns(con, alias, table, rounding)
        if not select:
            continue  # a mart this municipality's warehouse does not have
        body = (
            f"select ? as municipality_code, ? as municipality_name, {select} "
            f"from {alias}.marts.{table}"
        )
        if table in created:
            con.execute(f"insert into marts.{table} by name {body}", [result.code, result.name])
        else:
            con.execute(f"create table marts.{table} as {body}", [result.code, result.name])
            created.add(table)
