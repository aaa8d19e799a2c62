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

MUNICIPALITY_WAREHOUSE = dg.AssetKey(["department", "municipality_warehouse"])
POOLED_MODELS = dg.AssetKey(["department", "pooled_models"])
DEPARTMENT_WAREHOUSE = dg.AssetKey(["department", "department_warehouse"])
DEPARTMENT_REPORT = dg.AssetKey(["department", "department_report"])

# The jobs the landing sensor asks for: one municipality (one partition), then the department's
# view over every municipality built.
MUNICIPALITY_JOB = "department_municipality"
DEPARTMENT_JOB = "department_view"


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
    selection=dg.AssetSelection.assets(MUNICIPALITY_WAREHOUSE),  # partitioned like the asset
    description="One municipality's whole pipeline into its own warehouse file.",
)
# The department's view: the pooled models, then department.duckdb and its report.
department_job = dg.define_asset_job(
    DEPARTMENT_JOB,
    selection=dg.AssetSelection.assets(POOLED_MODELS, DEPARTMENT_WAREHOUSE, DEPARTMENT_REPORT),
    description="The pooled models over every built municipality, then department.duckdb and "
    "department.html.",
)
