"""Build an asset from a SQL file: the asset, the file and the table share one name."""

import warnings
from collections.abc import Sequence

import dagster as dg
from dagster_duckdb import DuckDBResource

from fiscal_intel.partitions import tax_years
from fiscal_intel.resources import FiscalSettings
from fiscal_intel.sqlfiles import install_macros, run_sql, scalar, sql_text


def sql_asset(
    schema: str,
    name: str,
    deps: Sequence[dg.AssetKey | Sequence[str]],
    description: str,
) -> dg.AssetsDefinition:
    """An asset that (re)builds ``<schema>.<name>`` from ``sql/<schema>/<name>.sql``.

    The file is a single ``create or replace table`` statement, so a rebuild is atomic and
    running it twice equals running it once.
    """

    @dg.asset(
        key=[schema, name],
        group_name=schema,
        deps=[d if isinstance(d, dg.AssetKey) else dg.AssetKey(list(d)) for d in deps],
        description=description,
        kinds={"duckdb", "sql"},
    )
    def _asset(warehouse: DuckDBResource, settings: FiscalSettings) -> dg.MaterializeResult:
        with warehouse.get_connection() as con:
            con.execute(f"create schema if not exists {schema}")
            install_macros(con)
            run_sql(con, f"{schema}/{name}", **settings.sql_params())
            rows = scalar(con, f"select count(*) from {schema}.{name}")
        return dg.MaterializeResult(metadata={"rows": dg.MetadataValue.int(rows)})

    return _asset


def partitioned_sql_asset(
    schema: str,
    name: str,
    deps: Sequence[dg.AssetKey | Sequence[str]],
    description: str,
) -> dg.AssetsDefinition:
    """A tax-year-partitioned ``<schema>.<name>`` whose rows ``sql/<schema>/<name>.sql`` selects.

    The file is a query with a ``$years`` parameter (the tax years to build). Materialising a
    set of years deletes those years and inserts them again inside one transaction, so a
    partition rebuilt twice is the same as rebuilt once and other years are never touched.
    """

    with warnings.catch_warnings():
        # Single-run backfills are "beta" in Dagster 1.13; we pin the version and test them.
        warnings.simplefilter("ignore", dg.BetaWarning)
        decorator = dg.asset(
            key=[schema, name],
            group_name=schema,
            deps=[d if isinstance(d, dg.AssetKey) else dg.AssetKey(list(d)) for d in deps],
            description=description,
            kinds={"duckdb", "sql"},
            partitions_def=tax_years,
            backfill_policy=dg.BackfillPolicy.single_run(),
        )

    @decorator
    def _asset(
        context: dg.AssetExecutionContext, warehouse: DuckDBResource, settings: FiscalSettings
    ) -> dg.MaterializeResult:
        years = sorted(int(k) for k in context.partition_keys)
        query = sql_text(f"{schema}/{name}").strip().rstrip(";")
        with warehouse.get_connection() as con:
            con.execute(f"create schema if not exists {schema}")
            install_macros(con)
            con.execute(
                f"create table if not exists {schema}.{name} as "
                f"select * from ({query}) as q limit 0",
                {"years": []},
            )
            con.begin()
            try:
                con.execute(
                    f"delete from {schema}.{name} where list_contains($years, tax_year)",
                    {"years": years},
                )
                con.execute(f"insert into {schema}.{name} {query}", {"years": years})
                con.commit()
            except BaseException:
                con.rollback()
                raise
            rows = scalar(
                con,
                f"select count(*) from {schema}.{name} where list_contains($years, tax_year)",
                {"years": years},
            )
        return dg.MaterializeResult(
            metadata={
                "rows": dg.MetadataValue.int(rows),
                "tax_years": dg.MetadataValue.text(f"{years[0]}–{years[-1]}" if years else "-"),
            }
        )

    return _asset
