"""Build an asset from a SQL file: the asset, the file and the table share one name.

The file says everything the asset needs: its header comment is the asset's description and
the tables its statement reads are the asset's dependencies (``fiscal_intel.lineage`` parses
them with DuckDB's own parser). Adding a mart is adding its SQL file and one ``sql_asset`` line.
"""

import warnings

import dagster as dg
from dagster_duckdb import DuckDBResource
from duckdb import DuckDBPyConnection

from fiscal_intel.catalogue import column_text, comment_table
from fiscal_intel.ingest.sources import SOURCES
from fiscal_intel.lineage import Table, sql_lineage
from fiscal_intel.partitions import default_tax_years
from fiscal_intel.resources import FiscalSettings
from fiscal_intel.sqlfiles import install_macros, run_sql, scalar, sql_text

# Tables no asset of their own name builds: the load bookkeeping every raw asset writes.
_WRITTEN_BY_RAW = [dg.AssetKey(["raw", s]) for s in SOURCES]
PRODUCERS: dict[Table, list[dg.AssetKey]] = {
    ("ops", "quarantine"): _WRITTEN_BY_RAW,
    ("ops", "load_log"): _WRITTEN_BY_RAW,
}


def upstream_keys(tables: frozenset[Table] | set[Table]) -> list[dg.AssetKey]:
    """The assets that build ``tables``: ``schema/table``, or the ``PRODUCERS`` of a table no
    asset of that name builds."""
    keys: dict[dg.AssetKey, None] = {}
    for table in sorted(tables):
        for key in PRODUCERS.get(table, [dg.AssetKey(list(table))]):
            keys[key] = None
    return list(keys)


def table_metadata(
    con: DuckDBPyConnection,
    schema: str,
    table: str,
    description: str | None,
    rows: int | None = None,
) -> dict[str, dg.MetadataValue]:
    """What a data engineer expects of a warehouse asset, from the table DuckDB built: its
    ``COMMENT ON`` table and columns (texts from ``fiscal_intel.catalogue``), the Dagster column
    schema with those texts, and ``dagster/row_count`` (``rows``, else counted)."""
    columns = comment_table(con, schema, table, description)
    if rows is None:
        rows = scalar(con, f"select count(*) from {schema}.{table}")
    schema_value = dg.TableSchema(
        columns=[dg.TableColumn(c, t, column_text(schema, table, c)) for c, t in columns]
    )
    return {
        "dagster/column_schema": dg.MetadataValue.table_schema(schema_value),
        "dagster/row_count": dg.MetadataValue.int(int(rows)),
    }


# Metadata the same for every partition of a run: on the latest tax year's event only.
ONCE_PER_RUN = ("dagster/column_schema",)


def materialized(
    context: dg.AssetExecutionContext, metadata: dict[str, dg.MetadataValue]
) -> dg.MaterializeResult:
    """The asset's materialization with ``metadata`` on its materialization event only.

    A ``MaterializeResult``'s metadata is stored twice, on the step output event too (3.7 kB a
    step, mostly the column schema with its texts: benchmarks/department_cost.md); asset
    metadata is stored once. On a partitioned asset every partition's event carries the
    metadata, except :data:`ONCE_PER_RUN` (the column schema: one table for all the years,
    5-25 kB with its texts), carried by the latest tax year's event only (Dagster stores a
    run's partition events in no fixed order; the run's report merges them:
    ``fiscal_intel.run_events.stage_result_of``)."""
    keys = context.partition_keys if context.assets_def.partitions_def is not None else []
    if keys:
        once = {k: v for k, v in metadata.items() if k in ONCE_PER_RUN}
        if once:
            context.add_asset_metadata(once, partition_key=max(keys, key=_year_order))
        metadata = {k: v for k, v in metadata.items() if k not in ONCE_PER_RUN}
    context.add_asset_metadata(metadata)
    return dg.MaterializeResult()


def _year_order(key: str) -> tuple[int, str]:
    return (int(key), key) if key.isdigit() else (0, key)


def described(context: dg.AssetExecutionContext) -> str | None:
    """The running asset's description (its table's comment)."""
    return context.assets_def.descriptions_by_key.get(context.asset_key)


def sql_file_spec(schema: str, name: str) -> tuple[list[dg.AssetKey], str]:
    """The dependencies and description of the asset ``sql/<schema>/<name>.sql`` builds, from
    the file itself; a file without a header comment is refused (it is the description)."""
    lineage = sql_lineage(f"{schema}/{name}")
    if not lineage.description:
        raise ValueError(
            f"sql/{schema}/{name}.sql has no header comment: its opening -- lines describe the "
            "table to its users (and become the asset's description)"
        )
    return upstream_keys(lineage.reads), lineage.description


def sql_asset(schema: str, name: str, *_ignored: object) -> dg.AssetsDefinition:
    """An asset that (re)builds ``<schema>.<name>`` from ``sql/<schema>/<name>.sql``.

    The file is a single ``create or replace table`` statement (temp tables it builds first and
    drops are allowed), so a rebuild is atomic and running it twice equals running it once.
    Dependencies and description come from the file (:func:`sql_file_spec`); arguments after
    the name, where an older call still passes hand-written ones, are not used.
    """
    deps, description = sql_file_spec(schema, name)

    @dg.asset(
        key=[schema, name],
        group_name=schema,
        deps=deps,
        description=description,
        kinds={"duckdb", "sql"},
    )
    def _asset(
        context: dg.AssetExecutionContext, warehouse: DuckDBResource, settings: FiscalSettings
    ) -> dg.MaterializeResult:
        with warehouse.get_connection() as con:
            con.execute(f"create schema if not exists {schema}")
            install_macros(con)
            run_sql(con, f"{schema}/{name}", **settings.sql_params())
            metadata = table_metadata(con, schema, name, description)
        return materialized(context, metadata)

    return _asset


def partitioned_sql_asset(schema: str, name: str, *_ignored: object) -> dg.AssetsDefinition:
    """A tax-year-partitioned ``<schema>.<name>`` whose rows ``sql/<schema>/<name>.sql`` selects.

    The file is a query with a ``$years`` parameter (the tax years to build). Materialising a
    set of years deletes those years and inserts them again inside one transaction, so a
    partition rebuilt twice is the same as rebuilt once and other years are never touched.
    Dependencies and description come from the file, as for :func:`sql_asset`.
    """
    deps, description = sql_file_spec(schema, name)

    with warnings.catch_warnings():
        # Single-run backfills are "beta" in Dagster 1.13; we pin the version and test them.
        warnings.simplefilter("ignore", dg.BetaWarning)
        decorator = dg.asset(
            key=[schema, name],
            group_name=schema,
            deps=deps,
            description=description,
            kinds={"duckdb", "sql"},
            # The run's years replace these in build_definitions (partitions.with_tax_years).
            partitions_def=default_tax_years(),
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
            metadata = table_metadata(con, schema, name, description)
        return materialized(
            context,
            {
                **metadata,
                "dagster/partition_row_count": dg.MetadataValue.int(rows),
                "tax_years": dg.MetadataValue.text(f"{years[0]}–{years[-1]}" if years else "-"),
            }
        )

    return _asset
