"""Build an asset from a SQL file: the asset, the file and the table share one name."""


from collections.abc import Sequence

import dagster as dg
from dagster_duckdb import DuckDBResource

from fiscal_intel.resources import FiscalSettings
from fiscal_intel.sqlfiles import install_macros, run_sql, scalar


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
