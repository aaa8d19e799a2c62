"""The Dagster code location: merges assets, checks, resources, jobs and the executor.

``build_definitions(settings)`` builds them for one run's settings (the CLI's runner does, with
``--config`` and the flags); ``defs`` is the code location ``dagster dev`` and ``dg`` load, built
from the environment (and ``FISCAL_INTEL_CONFIG`` / ``fiscal_intel.toml``).
"""

from __future__ import annotations

import dagster as dg

from fiscal_intel.assets.actions import action_assets
from fiscal_intel.assets.checks import asset_checks, with_checks
from fiscal_intel.assets.entities import entity_assets
from fiscal_intel.assets.evaluation import evaluation_assets
from fiscal_intel.assets.features import feature_assets
from fiscal_intel.assets.marts import mart_assets
from fiscal_intel.assets.raw import landing_specs, raw_assets
from fiscal_intel.assets.reference import reference_assets
from fiscal_intel.assets.scoring import scoring_assets
from fiscal_intel.assets.staging import staging_assets
from fiscal_intel.jobs import jobs
from fiscal_intel.partitions import with_tax_years
from fiscal_intel.resources import build_resources
from fiscal_intel.schedules import schedules
from fiscal_intel.sensors import sensors
from fiscal_intel.settings import Settings, load_settings

# Each asset with the checks that read only it, evaluated in its step (assets/checks.py).
all_assets = with_checks([
    *landing_specs,
    *reference_assets,
    *raw_assets,
    *staging_assets,
    *entity_assets,
    *feature_assets,
    *scoring_assets,
    *mart_assets,
    *evaluation_assets,
    *action_assets,
])


def build_definitions(settings: Settings) -> dg.Definitions:
    """The code location for ``settings``: the tax-year partitions run from its
    ``first_tax_year`` to its ``last_tax_year``, and the resources (which the checks, sensors
    and schedules read) carry it."""
    return dg.Definitions(
        assets=with_tax_years(all_assets, settings),
        asset_checks=asset_checks,
        jobs=jobs,
        schedules=schedules,
        sensors=sensors,
        resources=build_resources(settings),
        # One DuckDB writer at a time: every step runs in this process, one after another.
        executor=dg.in_process_executor,
    )


defs = build_definitions(load_settings())
