"""The department's assets: each municipality a partition, then the department's view.

``department/municipality_warehouse`` is partitioned by municipality (dynamic partitions keyed
by DANE code): materialising partition ``05615`` runs that municipality exactly as
``fiscal-intel run --warehouse-dir`` does (:func:`fiscal_intel.department.runner.run_municipality`
on :func:`~fiscal_intel.department.runner.municipality_settings`), into
``<warehouse dir>/05615.duckdb``, with its own asset graph partitioned by tax year. A municipality
that fails fails its own partition only, naming itself and the reason. The unpartitioned assets
after it read every municipality built (all partitions), as the command does after its pool.
"""

from pathlib import Path

import dagster as dg
import duckdb

from fiscal_intel.department.landing import municipality_name, unknown_codes
from fiscal_intel.department.partitions import (
    DEPARTMENT_REPORT,
    DEPARTMENT_WAREHOUSE,
    MUNICIPALITY_WAREHOUSE,
    POOLED_MODELS,
    department_warehouse_dir,
    municipality_partitions,
)
from fiscal_intel.department.runner import (
    MunicipalityResult,
    municipality_settings,
    pooled_step,
    previous_result,
    run_municipality,
)
from fiscal_intel.published import published_path
from fiscal_intel.resources import FiscalSettings
from fiscal_intel.settings import Settings

# Statuses whose warehouse holds lists and marts (incomplete: built, some file unreadable).
BUILT = ("success", "incomplete")

# Every municipality upstream of the department's view, whatever partitions exist.
_EVERY_MUNICIPALITY = dg.AssetDep(
    MUNICIPALITY_WAREHOUSE, partition_mapping=dg.AllPartitionMapping()
)


def registered_taxpayers(warehouse: str | Path) -> int | None:
    """Taxpayers in the municipality's published registry (None when it has no copy yet)."""
    source = published_path(warehouse)
    if not source.is_file():
        return None
    try:
        with duckdb.connect(str(source), read_only=True) as con:
            return con.execute("select count(*) from staging.stg_taxpayers").fetchone()[0]
    except duckdb.Error:
        return None


@dg.asset(
    key=MUNICIPALITY_WAREHOUSE,
    partitions_def=municipality_partitions,
    group_name="department",
    description="One municipality's warehouse file (`<warehouse dir>/<DANE code>.duckdb`), "
    "built by its whole pipeline from `<landing>/<DANE code>/`.",
)
def municipality_warehouse(
    context: dg.AssetExecutionContext, settings: FiscalSettings
) -> dg.MaterializeResult:
    code = context.partition_key
    department = settings.settings
    folder = department.landing_path / code
    if unknown_codes([code]):
        raise dg.Failure(
            f"municipality {code} failed: folder {code}/ is not a municipality code in DIVIPOLA",
            allow_retries=False,
        )
    if not folder.is_dir():
        raise dg.Failure(
            f"municipality {code} ({municipality_name(code)}) failed: no folder {folder}",
            allow_retries=False,
        )
    warehouse_dir = department_warehouse_dir(department)
    warehouse_dir.mkdir(parents=True, exist_ok=True)
    result = run_municipality(municipality_settings(department, code, folder, warehouse_dir), code)
    metadata = {
        "municipality": result.name,
        "status": result.status,
        "seconds": round(result.seconds, 1),
        "warehouse": dg.MetadataValue.path(result.warehouse),
    }
    if result.status not in BUILT:
        raise dg.Failure(
            f"municipality {code} ({result.name}) failed: {result.message}",
            metadata=metadata,
            allow_retries=False,
        )
    if result.message:  # incomplete: built from what was read, some file unreadable
        context.log.warning(f"municipality {code} ({result.name}): {result.message}")
        metadata["message"] = result.message
    metadata["taxpayers"] = registered_taxpayers(result.warehouse)
    return dg.MaterializeResult(metadata=metadata)


def municipality_results(
    instance: dg.DagsterInstance, settings: Settings
) -> list[MunicipalityResult]:
    """Each municipality partition as the department's view sees it: failed when its last
    materialisation failed, else as its last published run left it (a partition never built
    is left out)."""
    codes = sorted(instance.get_dynamic_partitions(municipality_partitions.name))
    status = (
        instance.get_status_by_partition(MUNICIPALITY_WAREHOUSE, codes, municipality_partitions)
        or {}
    )
    warehouse_dir = department_warehouse_dir(settings)
    results = []
    for code in codes:
        if status.get(code) == dg.AssetPartitionStatus.FAILED:
            results.append(
                MunicipalityResult(
                    code, municipality_name(code), "failed", 0.0,
                    str(warehouse_dir / f"{code}.duckdb"), "its last run failed",
                )  # fmt: skip
            )
            continue
        kept = previous_result(code, warehouse_dir)
        if kept is not None:
            results.append(kept)
    return results


@dg.asset(
    key=POOLED_MODELS,
    deps=[_EVERY_MUNICIPALITY],
    group_name="department",
    description="The pooled risk models trained on every built municipality's audits, and each "
    "municipality's choice of own, pooled or rule model by its own backtest "
    "(`marts.model_choice` in its warehouse).",
)
def pooled_models(
    context: dg.AssetExecutionContext, settings: FiscalSettings
) -> dg.MaterializeResult:
    department = settings.settings
    warehouse_dir = department_warehouse_dir(department)
    built = {
        r.code: municipality_settings(
            department, r.code, department.landing_path / r.code, warehouse_dir
        )
        for r in municipality_results(context.instance, department)
        if r.status in BUILT
    }
    result = pooled_step(built, on_message=context.log.info)
    for code, reason in sorted(result.failed.items()):
        context.log.warning(f"municipality {code}: {reason}")
    return dg.MaterializeResult(
        metadata={
            "municipalities": len(built),
            "choices": dg.MetadataValue.json(
                {
                    code: {program: row["choice"] for program, row in programs.items()}
                    for code, programs in sorted(result.choices.items())
                }
            ),
            "failed": dg.MetadataValue.json(dict(sorted(result.failed.items()))),
            "seconds": round(result.seconds, 1),
        }
    )


@dg.asset(
    key=DEPARTMENT_WAREHOUSE,
    deps=[_EVERY_MUNICIPALITY, POOLED_MODELS],
    group_name="department",
    description="`department.duckdb`: each municipality's leadership marts (aggregates under "
    "tax secrecy) and one summary row per municipality; no taxpayer-level row.",
)
def department_warehouse(
    context: dg.AssetExecutionContext, settings: FiscalSettings
) -> dg.MaterializeResult:
    from fiscal_intel.department.marts import build_department

    department = settings.settings
    warehouse_dir = department_warehouse_dir(department)
    warehouse_dir.mkdir(parents=True, exist_ok=True)
    results = municipality_results(context.instance, department)
    out = build_department(warehouse_dir, results, department)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(out)),
            "municipalities": len(results),
            "built": sum(r.status in BUILT for r in results),
            "failed": ", ".join(r.code for r in results if r.status not in BUILT),
        }
    )


@dg.asset(
    key=DEPARTMENT_REPORT,
    deps=[DEPARTMENT_WAREHOUSE],
    group_name="department",
    description="`department.html`: the department edition of the leadership report, one "
    "offline table comparing the municipalities (Spanish; `report_language = \"en\"`).",
)
def department_report(settings: FiscalSettings) -> dg.MaterializeResult:
    from fiscal_intel.department.marts import DEPARTMENT_FILE
    from fiscal_intel.department.report import department_report as write_department_report

    department = settings.settings
    warehouse_dir = department_warehouse_dir(department)
    source = warehouse_dir / DEPARTMENT_FILE
    with duckdb.connect(str(source), read_only=True) as con:
        built = con.execute(
            "select count(*) from marts.municipalities where status in ('success', 'incomplete')"
        ).fetchone()[0]
    if not built:
        raise dg.Failure(
            f"no municipality of {department.landing} is built yet: no department report",
            allow_retries=False,
        )
    out = warehouse_dir / "department.html"
    size = write_department_report(source, out, department.report_language)
    return dg.MaterializeResult(
        metadata={"path": dg.MetadataValue.path(str(out)), "bytes": size, "municipalities": built}
    )


department_assets = [municipality_warehouse, pooled_models, department_warehouse, department_report]
