"""Reference data shipped with the package: CIIU classes and the default tariff."""


from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from fiscal_intel.assets.factory import materialized, sql_asset, table_metadata
from fiscal_intel.sqlfiles import run_sql

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "reference"


def _reference_asset(
    name: str, csv_name: str, description: str, **more_files: str
) -> dg.AssetsDefinition:
    """``ref.<name>`` from ``sql/ref/<name>.sql`` over shipped files: ``$path`` is ``csv_name``,
    and each of ``more_files`` is a parameter of the same name."""

    @dg.asset(key=["ref", name], group_name="ref", description=description, kinds={"duckdb"})
    def _asset(
        context: dg.AssetExecutionContext, warehouse: DuckDBResource
    ) -> dg.MaterializeResult:
        with warehouse.get_connection() as con:
            con.execute("create schema if not exists ref")
            files = {k: str(REFERENCE_DIR / v) for k, v in more_files.items()}
            run_sql(con, f"ref/{name}", path=str(REFERENCE_DIR / csv_name), **files)
            metadata = table_metadata(con, "ref", name, description)
        return materialized(context, metadata)

    return _asset


reference_assets = [
    _reference_asset(
        "ciiu_classes",
        "ciiu_rev4ac_classes.csv",
        "The 502 CIIU Rev.4 A.C. classes (DANE) with section, division and group names, and the "
        "2012 edition's codes still in use under their successor (edition, current_ciiu).",
        added="ciiu_rev4ac_classes_added.csv",
        crosswalk="ciiu_2012_crosswalk.csv",
    ),
    _reference_asset(
        "ciiu_rates_default",
        "ciiu_rates_default.csv",
        "Default ICA tariff per CIIU class in per mil, when the municipality ships none.",
        crosswalk="ciiu_2012_crosswalk.csv",
    ),
    _reference_asset(
        "cpi_deflator",
        "cpi_deflator.csv",
        "Colombia's CPI (DANE IPC): December-on-December inflation and a chained December index, "
        "to turn nominal pesos and growth into real ones.",
    ),
    # Derived from cpi_deflator by SQL: its lineage and description come from the file.
    sql_asset("ref", "cpi_by_year"),
]
