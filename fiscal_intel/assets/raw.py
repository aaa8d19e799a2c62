"""Landing → raw: one asset per landing source, loading each new file once.

A file that cannot be read is recorded in ``ops.load_log`` and fails the asset after every other
file has loaded, naming the file; rows that cannot be typed go to ``ops.quarantine``. With the
``continue_past_unreadable`` setting the asset succeeds instead and lists the failed files in
its ``unreadable_files`` metadata, which the CLI turns into a non-zero exit at the end of the run.
"""

from collections.abc import Iterable

import dagster as dg
from dagster_duckdb import DuckDBResource

from fiscal_intel.assets.factory import described, materialized, table_metadata
from fiscal_intel.catalogue import comment_sql_table
from fiscal_intel.ingest.loader import LoadBounds, SourceLoad, load_source
from fiscal_intel.ingest.mappings import MappingError, load_mapping
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


UNREADABLE_FILES = "unreadable_files"  # metadata key: "<source>/<file>: <problem>" per failed file


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
        UNREADABLE_FILES: dg.MetadataValue.json(
            [f"{result.source}/{f.message}" for f in result.failures]
        ),
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
        try:
            mapping = load_mapping(source, settings.mappings or None)
        except MappingError as exc:
            raise dg.Failure(description=str(exc)) from exc
        with warehouse.get_connection() as con:
            bounds = LoadBounds(settings.first_tax_year, settings.last_tax_year)
            result = load_source(
                con, source, settings.landing_path / source.name, mapping=mapping, bounds=bounds
            )
            table_rows = scalar(con, f"select count(*) from raw.{source.name}")
            table = table_metadata(con, "raw", source.name, described(context), table_rows)
            for bookkeeping in ("ops/load_log", "ops/quarantine"):
                comment_sql_table(con, bookkeeping)
        for f in result.files:
            if f.status == "loaded":
                context.log.info(
                    f"{source.name}/{f.file}: {f.rows_loaded} loaded, "
                    f"{f.rows_quarantined} quarantined"
                )
        for f in result.files:
            if f.status in ("changing", "removed"):
                context.log.warning(f"{source.name}/{f.message}")
        for f in result.failures:
            context.log.warning(f"{source.name}/{f.message}")
        if result.failures and not settings.continue_past_unreadable:
            raise dg.Failure(
                description="; ".join(f"{source.name}/{f.message}" for f in result.failures),
                metadata=_metadata(result, table_rows),
            )
        return materialized(context, {**_metadata(result, table_rows), **table})

    return _asset


raw_assets = [raw_asset(s) for s in SOURCES.values()]


def unreadable_files(stages: Iterable[object]) -> list[str]:
    """``<source>/<file>: <problem>`` for each file a run could not read, from its stages'
    metadata (``run_events.StageResult``); with ``continue_past_unreadable`` the run still built
    every table, and the CLI exits non-zero naming these files."""
    found: list[str] = []
    for stage in stages:
        for metadata in getattr(stage, "metadata", {}).values():
            found.extend(metadata.get(UNREADABLE_FILES) or [])
    return found
