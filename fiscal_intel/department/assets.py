"""The department's assets: each municipality two partitions around the pooled models, then the
department's view.

``department/municipality_models`` and ``department/municipality_warehouse`` are partitioned by
municipality (dynamic partitions keyed by DANE code). Partition ``05615`` of the first runs that
municipality's first run as ``fiscal-intel run --warehouse-dir`` does
(:func:`fiscal_intel.department.runner.run_municipality`, phase ``before_choice``, on
:func:`~fiscal_intel.department.runner.municipality_settings`) into
``<warehouse dir>/05615.duckdb``: everything the pooled models read. ``department/pooled_models``
reads every first run and records each municipality's choice; then partition ``05615`` of
``municipality_warehouse`` builds its lists once with that choice (phase ``after_choice``) and
publishes the file. A municipality that fails fails its own partition only, naming itself and
the reason. The view after them reads every municipality built (all partitions).
"""

from pathlib import Path

import dagster as dg
import duckdb

from fiscal_intel.department.landing import municipality_name, unknown_codes
from fiscal_intel.department.partitions import (
    DEPARTMENT_REPORT,
    DEPARTMENT_WAREHOUSE,
    MUNICIPALITY_MODELS,
    MUNICIPALITY_WAREHOUSE,
    POOLED_MODELS,
    department_warehouse_dir,
    municipality_partitions,
    partition_statuses,
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

# Every municipality upstream of the pooled models and the department's view, whatever
# partitions exist.
_EVERY_FIRST_RUN = dg.AssetDep(MUNICIPALITY_MODELS, partition_mapping=dg.AllPartitionMapping())
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


def _municipality(
    context: dg.AssetExecutionContext, settings: FiscalSettings
) -> tuple[str, Settings, Path]:
    """The partition's code, the department's settings and the municipality's folder; a
    :class:`dagster.Failure` naming it when its folder is no DIVIPOLA code or missing."""
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
    return code, department, folder


def _materialized(result: MunicipalityResult, context: dg.AssetExecutionContext) -> dict:
    """The partition's metadata, or a :class:`dagster.Failure` naming the municipality and why."""
    metadata = {
        "municipality": result.name,
        "status": result.status,
        "seconds": round(result.seconds, 1),
        "warehouse": dg.MetadataValue.path(result.warehouse),
    }
    if result.status not in (*BUILT, "waiting"):
        raise dg.Failure(
            f"municipality {result.code} ({result.name}) failed: {result.message}",
            metadata=metadata,
            allow_retries=False,
        )
    if result.message:  # incomplete: built from what was read, some file unreadable
        context.log.warning(f"municipality {result.code} ({result.name}): {result.message}")
        metadata["message"] = result.message
    return metadata


@dg.asset(
    key=MUNICIPALITY_MODELS,
    partitions_def=municipality_partitions,
    group_name="department",
    description="One municipality's first run into its warehouse file (`<warehouse dir>/<DANE "
    "code>.duckdb`) from `<landing>/<DANE code>/`: everything but its lists (features, own "
    "models, backtest, the marts that do not read the lists), what the pooled models read.",
)
def municipality_models(
    context: dg.AssetExecutionContext, settings: FiscalSettings
) -> dg.MaterializeResult:
    code, department, folder = _municipality(context, settings)
    warehouse_dir = department_warehouse_dir(department)
    warehouse_dir.mkdir(parents=True, exist_ok=True)
    result = run_municipality(
        municipality_settings(department, code, folder, warehouse_dir), code,
        phase="before_choice",
    )  # fmt: skip
    return dg.MaterializeResult(metadata=_materialized(result, context))


@dg.asset(
    key=MUNICIPALITY_WAREHOUSE,
    partitions_def=municipality_partitions,
    deps=[MUNICIPALITY_MODELS, POOLED_MODELS],
    group_name="department",
    description="One municipality's finished warehouse file: its lists (score tables, case "
    "actions, audit ranking and the marts that read them) built once, ranked by the model the "
    "pooled step chose for it (own, pooled or rule), then published for readers.",
)
def municipality_warehouse(
    context: dg.AssetExecutionContext, settings: FiscalSettings
) -> dg.MaterializeResult:
    code, department, folder = _municipality(context, settings)
    status = partition_statuses(context.instance, MUNICIPALITY_MODELS, [code])
    if status.get(code) == dg.AssetPartitionStatus.FAILED:
        raise dg.Failure(
            f"municipality {code} ({municipality_name(code)}) failed: its first run failed",
            allow_retries=False,
        )
    choices = _latest_choices(context.instance)
    result = run_municipality(
        municipality_settings(department, code, folder, department_warehouse_dir(department)),
        code, phase="after_choice", chosen=code in choices,
    )  # fmt: skip
    metadata = _materialized(result, context)
    metadata["model_choice"] = dg.MetadataValue.json(choices.get(code, {}))
    metadata["taxpayers"] = registered_taxpayers(result.warehouse)
    return dg.MaterializeResult(metadata=metadata)


def _latest_choices(instance: dg.DagsterInstance) -> dict[str, dict[str, str]]:
    """Per municipality code, the choice per program the last pooled-models run recorded."""
    event = instance.get_latest_materialization_event(POOLED_MODELS)
    if event is None or event.asset_materialization is None:
        return {}
    value = event.asset_materialization.metadata.get("choices")
    return dict(value.value) if value is not None else {}


def _failed_partitions(
    instance: dg.DagsterInstance, codes: list[str], assets: tuple[dg.AssetKey, ...]
) -> set[str]:
    """The codes whose last materialisation of any of ``assets`` failed."""
    failed = set()
    for asset in assets:
        status = partition_statuses(instance, asset, codes)
        failed |= {c for c, s in status.items() if s == dg.AssetPartitionStatus.FAILED}
    return failed


def first_runs(instance: dg.DagsterInstance, settings: Settings) -> list[str]:
    """The municipalities the pooled models read: each partition whose first run is built here,
    or, never run here, whose published warehouse the command built."""
    codes = sorted(instance.get_dynamic_partitions(municipality_partitions.name))
    status = partition_statuses(instance, MUNICIPALITY_MODELS, codes)
    warehouse_dir = department_warehouse_dir(settings)
    out = []
    for code in codes:
        if status.get(code) == dg.AssetPartitionStatus.MATERIALIZED:
            out.append(code)
        elif status.get(code) is None:
            kept = previous_result(code, warehouse_dir)
            if kept is not None and kept.status in BUILT:
                out.append(code)
    return out


def municipality_results(
    instance: dg.DagsterInstance, settings: Settings
) -> list[MunicipalityResult]:
    """Each municipality partition as the department's view sees it: failed when the last
    materialisation of its first run or of its lists failed, else as its last published run
    left it (a partition never built is left out)."""
    codes = sorted(instance.get_dynamic_partitions(municipality_partitions.name))
    failed = _failed_partitions(instance, codes, (MUNICIPALITY_MODELS, MUNICIPALITY_WAREHOUSE))
    warehouse_dir = department_warehouse_dir(settings)
    results = []
    for code in codes:
        if code in failed:
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
    deps=[_EVERY_FIRST_RUN],
    group_name="department",
    description="The pooled risk models trained on every municipality's audits (their first "
    "runs), and each municipality's choice of own, pooled or rule model by its own backtest "
    "(`marts.model_choice` in its warehouse), which its lists are then built with.",
)
def pooled_models(
    context: dg.AssetExecutionContext, settings: FiscalSettings
) -> dg.MaterializeResult:
    department = settings.settings
    warehouse_dir = department_warehouse_dir(department)
    built = {
        code: municipality_settings(department, code, department.landing_path / code,
                                    warehouse_dir)  # fmt: skip
        for code in first_runs(context.instance, department)
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


department_assets = [
    municipality_models, pooled_models, municipality_warehouse, department_warehouse,
    department_report,
]  # fmt: skip
