"""Data checks beside what they check: GX suites on staged tables, SQL rules across tables.

Ingestion gates are blocking: when one fails, nothing downstream of that table runs in the same
run, and the check's description says why.
"""


import dagster as dg
from dagster_duckdb import DuckDBResource

from fiscal_intel.assets.staging import STAGED_TABLES
from fiscal_intel.ingest.sources import SOURCES
from fiscal_intel.partitions import FIRST_TAX_YEAR, LAST_TAX_YEAR
from fiscal_intel.resources import FiscalSettings
from fiscal_intel.sqlfiles import run_sql


def gx_check(table: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey(["staging", table]),
        name="expectations",
        blocking=True,
        description=f"The Great Expectations suite expectations/{table}.json.",
    )
    def _check(warehouse: DuckDBResource) -> dg.AssetCheckResult:
        from fiscal_intel.validation.gx import load_suite_json, validate_frame

        with warehouse.get_connection() as con:
            df = con.execute(f"select * from staging.{table}").df()
        outcome = validate_frame(df, load_suite_json(table))
        return dg.AssetCheckResult(
            passed=outcome.success,
            severity=dg.AssetCheckSeverity.ERROR,
            description=outcome.summary(),
            metadata={
                "rows": dg.MetadataValue.int(outcome.rows),
                "failed": dg.MetadataValue.json(
                    [
                        {
                            "expectation": f.expectation,
                            "column": f.column,
                            "unexpected": f.unexpected_count,
                            "sample": f.sample,
                        }
                        for f in outcome.failures
                    ]
                ),
            },
        )

    return _check


def run_check_sql(
    warehouse: DuckDBResource, name: str, **params: object
) -> tuple[bool, float, str]:
    """Run ``sql/checks/<name>.sql``: one row of (passed, observed, detail)."""
    with warehouse.get_connection() as con:
        passed, observed, detail = run_sql(con, f"checks/{name}", **params).fetchall()[0]
    return bool(passed), float(observed), str(detail)


def sql_check(
    asset: tuple[str, str],
    name: str,
    description: str,
    *,
    sql: str | None = None,
    blocking: bool = True,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
    reads: tuple[tuple[str, str], ...] = (),
    **fixed: object,
) -> dg.AssetChecksDefinition:
    """An asset check backed by ``sql/checks/<sql or name>.sql``.

    ``reads``: other tables the check's SQL reads, so it runs after they are rebuilt (not on
    last run's copy, or on nothing in a fresh warehouse).
    """
    sql_name = sql or name

    @dg.asset_check(
        asset=dg.AssetKey(list(asset)),
        name=name,
        blocking=blocking,
        description=description,
        additional_deps=[dg.AssetKey(list(r)) for r in reads],
    )
    def _check(warehouse: DuckDBResource, settings: FiscalSettings) -> dg.AssetCheckResult:
        passed, observed, detail = run_check_sql(
            warehouse, sql_name, **settings.sql_params(), **fixed
        )
        return dg.AssetCheckResult(
            passed=passed,
            severity=severity,
            description=detail,
            metadata={"observed": dg.MetadataValue.float(observed)},
        )

    return _check


# How far (days) each source's latest event may trail the latest event anywhere in the data
# before its freshness check warns: payments arrive daily, withholdings per bimester plus the
# reporting delay, registries and returns yearly.
EXPECTED_LAG_DAYS = {
    "taxpayers": 400,
    "declarations": 400,
    "payments": 60,
    "withholdings": 150,
    "commerce_registry": 400,
    "audits": 400,
}

freshness_checks = [
    sql_check(
        ("raw", source),
        "freshness",
        f"Warns when {source} trails the rest of the data by more than {days} days.",
        sql="source_freshness",
        reads=tuple(("raw", other) for other in EXPECTED_LAG_DAYS if other != source),
        blocking=False,
        severity=dg.AssetCheckSeverity.WARN,
        source=source,
        max_lag_days=days,
    )
    for source, days in EXPECTED_LAG_DAYS.items()
]

partition_checks = [
    sql_check(
        ("raw", source),
        "tax_years_in_partitions",
        "Every tax year in the raw table falls within the tax-year partitions.",
        sql="tax_years_in_partitions",
        raw_table=f"raw.{source}",
        first_tax_year=FIRST_TAX_YEAR,
        last_tax_year=LAST_TAX_YEAR,
    )
    for source in ("declarations", "payments", "withholdings")
]

asset_checks = (
    [gx_check(t) for t in STAGED_TABLES]
    + [
        sql_check(
            ("raw", s),
            "load_accounting",
            "Rows read = rows loaded + rows quarantined for every file, and the tables agree.",
            sql="load_accounting",
            source=s,
            raw_table=f"raw.{s}",
        )
        for s in SOURCES
    ]
    + [
        sql_check(
            ("staging", "stg_declarations"),
            "one_current_return",
            "After corrections, exactly one current return per NIT and tax year.",
            sql="declarations_one_current_return",
        ),
        sql_check(
            ("staging", "stg_declarations"),
            "filer_known",
            "Returns filed by NITs in no registry stay below max_unknown_filer_share.",
            sql="declarations_filer_known",
            reads=(("staging", "stg_taxpayers"), ("staging", "stg_commerce_registry")),
        ),
        sql_check(
            ("staging", "stg_declarations"),
            "arithmetic",
            "The return's lines add up (taxable income and total tax), allowing 1 % exceptions.",
            sql="declarations_arithmetic",
        ),
    ]
    + freshness_checks
    + partition_checks
)
