"""Landing → raw: one asset per landing source, loading each new file once.

A file that cannot be read is recorded in ``ops.load_log`` and fails the asset after every other
file has loaded, naming the file; rows that cannot be typed go to ``ops.quarantine``.
"""


import dagster as dg
from dagster_duckdb import DuckDBResource

from fiscal_intel.ingest.loader import SourceLoad, load_source
from fiscal_intel.ingest.sources import SOURCES, Source
from fiscal_intel.resources import FiscalSettings
from fiscal_intel.sqlfiles import scalar

landing_specs = [
    dg.AssetSpec(
        key=["landing", s.name],
        group_name="landing",
        description=f"Files in landing/{s.name}/: {s.description} (read, never modified).",
        kinds={"file"},
    )
    for s in SOURCES.values()
]


def _metadata(result: SourceLoad, table_rows: int) -> dict[str, dg.MetadataValue]:
    return {
        "files_loaded": dg.MetadataValue.int(sum(f.status == "loaded" for f in result.files)),
        "files_skipped": dg.MetadataValue.int(
            sum(f.status in ("skipped", "duplicate") for f in result.files)
        ),
        "files_failed": dg.MetadataValue.int(len(result.failures)),
        "rows_read": dg.MetadataValue.int(result.total("rows_read")),
        "rows_loaded": dg.MetadataValue.int(result.total("rows_loaded")),
        "rows_quarantined": dg.MetadataValue.int(result.total("rows_quarantined")),
        "rows_in_table": dg.MetadataValue.int(table_rows),
    }


def raw_asset(source: Source) -> dg.AssetsDefinition:
    @dg.asset(
        key=["raw", source.name],
        group_name="raw",
        deps=[dg.AssetKey(["landing", source.name])],
        description=(
            f"Every valid row ever loaded from landing/{source.name}/ ({source.description}), "
            "typed, with the file and row it came from."
        ),
        kinds={"duckdb"},
    )
    def _asset(
        context: dg.AssetExecutionContext, warehouse: DuckDBResource, settings: FiscalSettings
    ) -> dg.MaterializeResult:
        with warehouse.get_connection() as con:
            result = load_source(con, source, settings.landing_path / source.name)
            table_rows = scalar(con, f"select count(*) from raw.{source.name}")
        for f in result.files:
            if f.status == "loaded":
                context.log.info(
                    f"{source.name}/{f.file}: {f.rows_loaded} loaded, "
                    f"{f.rows_quarantined} quarantined"
                )
        if result.failures:
            raise dg.Failure(
                description="; ".join(f"{source.name}/{f.message}" for f in result.failures),
                metadata=_metadata(result, table_rows),
            )
        return dg.MaterializeResult(metadata=_metadata(result, table_rows))

    return _asset


raw_assets = [raw_asset(s) for s in SOURCES.values()]
