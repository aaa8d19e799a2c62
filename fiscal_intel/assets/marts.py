"""Scoring and staging → marts: the tables inspectors and finance leadership read.

The leadership marts (``fiscal_intel.leadership.LEADERSHIP_MARTS``) are aggregates under tax
secrecy; from them come two files for leadership, written beside the warehouse (or in the
``leadership_dir`` setting): a DuckDB file holding only those marts and the HTML report.
"""

from collections.abc import Callable
from pathlib import Path

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from fiscal_intel.assets.factory import described, materialized, sql_asset, table_metadata
from fiscal_intel.leadership import LEADERSHIP_MARTS
from fiscal_intel.resources import FiscalSettings

mart_assets = [
    sql_asset("marts", name)
    for name in (
        "audit_ranking",
        "cases_in_progress",
        "revenue_monthly",
        "revenue_yearly",
        "compliance_yearly",
        "arrears",
        "audit_yield",
        "tax_gap",
    )
]

# What the yearly and monthly forecast frames (fiscal_intel.leadership.forecast) read.
_FORECAST_INPUTS = [("staging", "stg_payments"), ("staging", "as_of_date"), ("ref", "cpi_deflator")]


def _forecast_table(
    context: dg.AssetExecutionContext,
    warehouse: DuckDBResource,
    settings: FiscalSettings,
    table: str,
    build: Callable[..., pl.DataFrame],
    order_by: str,
) -> tuple[pl.DataFrame, dict[str, dg.MetadataValue]]:
    """Build a forecast frame under the secrecy settings and store it as ``marts.<table>``."""
    from fiscal_intel.sqlfiles import install_macros

    with warehouse.get_connection() as con:
        con.execute("create schema if not exists marts")
        install_macros(con)
        frame = build(con, settings.min_cell_taxpayers, settings.dominance_p_percent)
        con.register(f"{table}_frame", frame.to_arrow())
        try:
            con.execute(
                f"create or replace table marts.{table} as "
                f"select * from {table}_frame order by {order_by}"
            )
        finally:
            con.unregister(f"{table}_frame")
        return frame, table_metadata(con, "marts", table, described(context))


@dg.asset(
    key=["marts", "revenue_forecast"],
    group_name="marts",
    deps=[dg.AssetKey(list(k)) for k in _FORECAST_INPUTS],
    description="Next-year ICA collection with a 95 % interval from the monthly series, and "
    "backtests of the model and of the naive forecast (last year × its growth).",
    kinds={"duckdb", "python"},
)
def revenue_forecast(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, settings: FiscalSettings
) -> dg.MaterializeResult:
    from fiscal_intel.leadership.forecast import backtest_errors, revenue_forecast_frame

    frame, metadata = _forecast_table(
        context, warehouse, settings, "revenue_forecast", revenue_forecast_frame,
        "kind, target_year, method, origin",
    )  # fmt: skip
    for (method, horizon), e in backtest_errors(frame.to_dicts()).items():
        metadata[f"mape_{method}_{horizon}m"] = dg.MetadataValue.float(round(e["mape"], 4))
    return materialized(context, metadata)


@dg.asset(
    key=["marts", "revenue_forecast_monthly"],
    group_name="marts",
    deps=[dg.AssetKey(list(k)) for k in _FORECAST_INPUTS],
    description="The next 12 months of ICA collection with 80 % and 95 % intervals: the yearly "
    "forecast spread by the recent seasonal shares (April deadline, December shift included).",
    kinds={"duckdb", "python"},
)
def revenue_forecast_monthly(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, settings: FiscalSettings
) -> dg.MaterializeResult:
    from fiscal_intel.leadership.forecast import revenue_forecast_monthly_frame

    _, metadata = _forecast_table(
        context, warehouse, settings, "revenue_forecast_monthly",
        revenue_forecast_monthly_frame, "month",
    )  # fmt: skip
    return materialized(context, metadata)


LEADERSHIP_MART_KEYS = [dg.AssetKey(["marts", name]) for name in LEADERSHIP_MARTS]


def leadership_dir(warehouse: DuckDBResource, settings: FiscalSettings) -> Path:
    """Where the leadership files go: the setting, else ``leadership/`` beside the warehouse."""
    if settings.leadership_dir:
        return Path(settings.leadership_dir)
    return Path(warehouse.database).parent / "leadership"


@dg.asset(
    key=["exports", "leadership_warehouse"],
    group_name="marts",
    deps=LEADERSHIP_MART_KEYS,
    description="A DuckDB file with only the leadership marts, to share without exposing "
    "taxpayer-level data (leadership/leadership.duckdb beside the warehouse).",
    kinds={"duckdb", "file"},
)
def leadership_warehouse(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, settings: FiscalSettings
) -> dg.MaterializeResult:
    from fiscal_intel.leadership.export import export_leadership

    out = leadership_dir(warehouse, settings) / "leadership.duckdb"
    with warehouse.get_connection() as con:
        rows = export_leadership(con, out, rounding_cop=settings.secrecy_rounding_cop)
    return materialized(
        context,
        {
            "path": dg.MetadataValue.path(str(out)),
            **{name: dg.MetadataValue.int(n) for name, n in rows.items()},
        }
    )


@dg.asset(
    key=["exports", "leadership_report"],
    group_name="marts",
    deps=LEADERSHIP_MART_KEYS,
    description="The report finance leadership reads: one offline HTML file (charts, then "
    "tables) built from the leadership marts (leadership/report.html beside the warehouse).",
    kinds={"html", "file"},
)
def leadership_report(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, settings: FiscalSettings
) -> dg.MaterializeResult:
    from fiscal_intel.leadership.report import render_report, write_report

    out = leadership_dir(warehouse, settings) / "report.html"
    with warehouse.get_connection() as con:
        html = render_report(
            con,
            language=settings.report_language,
            municipality=settings.municipality,
            min_cell_taxpayers=settings.min_cell_taxpayers,
            rounding_cop=settings.secrecy_rounding_cop,
        )
    size = write_report(html, out)
    return materialized(
        context,
        {"path": dg.MetadataValue.path(str(out)), "bytes": dg.MetadataValue.int(size)}
    )


mart_assets += [revenue_forecast, revenue_forecast_monthly, leadership_warehouse, leadership_report]
