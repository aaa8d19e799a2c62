"""The department's municipalities as Dagster partitions; the department assets' keys and jobs.

Municipalities are dynamic partitions keyed by their 5-digit DANE code: the landing sensor adds a
code when its folder appears (``fiscal_intel.department.sensors``), so a new municipality needs
no code change. Each municipality keeps its own warehouse file and its own asset graph,
partitioned by tax year (``fiscal_intel.partitions``); a second dimension on every asset
(DANE code x tax year) would change every asset's IO for no gain when each code has its own file.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from fiscal_intel.settings import Settings

municipality_partitions = dg.DynamicPartitionsDefinition(name="municipality")

# A municipality is two partitioned assets around the pooled step (#19): its first run
# (everything the pooled step reads), then its finished warehouse (the lists, built once with
# the department's choice).
MUNICIPALITY_MODELS = dg.AssetKey(["department", "municipality_models"])
MUNICIPALITY_WAREHOUSE = dg.AssetKey(["department", "municipality_warehouse"])
POOLED_MODELS = dg.AssetKey(["department", "pooled_models"])
DEPARTMENT_WAREHOUSE = dg.AssetKey(["department", "department_warehouse"])
DEPARTMENT_REPORT = dg.AssetKey(["department", "department_report"])

# The jobs the landing sensor asks for, in this order: each new or changed municipality's first
# run (one partition), the pooled models over every municipality, each municipality's lists
# (one partition), then the department's view over every municipality built.
MUNICIPALITY_JOB = "department_municipality"
POOLED_JOB = "department_pooled_models"
LISTS_JOB = "department_municipality_lists"
DEPARTMENT_JOB = "department_view"


def partition_statuses(
    instance: dg.DagsterInstance, asset: dg.AssetKey, codes: list[str] | set[str]
) -> dict[str, dg.AssetPartitionStatus]:
    """The last status of each municipality partition of ``asset`` among ``codes`` (a code never
    materialised is missing)."""
    if not codes:
        return {}
    return instance.get_status_by_partition(asset, sorted(codes), municipality_partitions) or {}


def department_warehouse_dir(settings: Settings) -> Path:
    """The folder of the municipalities' warehouses: the ``warehouse_dir`` setting, else
    ``warehouses/`` beside the landing folder (where ``fiscal-intel demo --municipalities``
    puts them)."""
    if settings.warehouse_dir:
        return Path(settings.warehouse_dir)
    return settings.landing_path.parent / "warehouses"


# One municipality, one partition, one run (the warehouse file of one DANE code).
municipality_job = dg.define_asset_job(
    MUNICIPALITY_JOB,
    selection=dg.AssetSelection.assets(MUNICIPALITY_MODELS),  # partitioned like the asset
    description="One municipality's first run into its own warehouse file: everything but its "
    "lists (features, own models, backtest, the marts that do not read the lists).",
)
pooled_job = dg.define_asset_job(
    POOLED_JOB,
    selection=dg.AssetSelection.assets(POOLED_MODELS),
    description="The pooled models over every municipality's first run, and each "
    "municipality's choice of own, pooled or rule model.",
)
lists_job = dg.define_asset_job(
    LISTS_JOB,
    selection=dg.AssetSelection.assets(MUNICIPALITY_WAREHOUSE),  # partitioned like the asset
    description="One municipality's lists (score tables, case actions, audit ranking), built "
    "once with the department's choice; the warehouse published.",
)
# The department's view: department.duckdb and its report.
department_job = dg.define_asset_job(
    DEPARTMENT_JOB,
    selection=dg.AssetSelection.assets(DEPARTMENT_WAREHOUSE, DEPARTMENT_REPORT),
    description="department.duckdb and department.html over every built municipality.",
)
