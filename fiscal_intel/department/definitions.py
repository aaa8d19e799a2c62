"""The department's Dagster code location: municipalities as dynamic partitions.

Load it with ``dagster dev -m fiscal_intel.department.definitions`` (a code location of its own:
``workspace.yaml`` keeps the municipality's alone, so that ``dagster sensor start --start-all
-w workspace.yaml`` needs no ``--location``). Its settings come from the environment and the
TOML file like every code location's: ``landing`` is the department landing (one subfolder per
DANE code) and ``warehouse_dir`` the folder of the municipalities' warehouses.
"""

from __future__ import annotations

import dagster as dg

from fiscal_intel.department.assets import department_assets
from fiscal_intel.department.partitions import (
    department_job,
    lists_job,
    municipality_job,
    pooled_job,
)
from fiscal_intel.department.sensors import department_sensors
from fiscal_intel.resources import FiscalSettings
from fiscal_intel.settings import Settings, load_settings


def build_department_definitions(settings: Settings) -> dg.Definitions:
    """The department code location for ``settings`` (its landing and warehouse dir)."""
    return dg.Definitions(
        assets=department_assets,
        jobs=[municipality_job, pooled_job, lists_job, department_job],
        sensors=department_sensors,
        resources={"settings": FiscalSettings(**settings.model_dump())},
        # Each municipality's run holds its own warehouse's lock; the view's steps one by one.
        executor=dg.in_process_executor,
    )


defs = build_department_definitions(load_settings())
