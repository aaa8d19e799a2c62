"""One municipality's run on Dagster's Celery executor: each step goes to a Celery worker.

The same assets and checks as the in-process run, stage by stage (a failed blocking check stops
the stages after it, as in ``fiscal_intel.runner``), one Dagster job per stage with the Celery
executor. The municipality's settings travel in the run config (the resources are configured at
launch), so one set of workers serves every municipality of a department. The instance must be
persistent and shared with the workers (a ``DAGSTER_HOME`` on a shared disk; Postgres in a
deployment, see ``deploy/dagster-postgres.yaml``). Workers start with
``celery -A dagster_celery.app worker`` and a ``dagster_celery_config`` module naming the broker.
"""

from __future__ import annotations

import time

import dagster as dg
from dagster_celery import celery_executor

from fiscal_intel.jobs import STAGES

MODULE = __name__


def _definitions() -> dg.Definitions:
    from fiscal_intel.assets.checks import asset_checks
    from fiscal_intel.definitions import all_assets
    from fiscal_intel.partitions import with_tax_years
    from fiscal_intel.resources import FiscalSettings, WarehouseResource
    from fiscal_intel.runner import phase_selection
    from fiscal_intel.settings import load_settings

    return dg.Definitions(
        # The workers' tax years: from their environment, as every code location's.
        assets=with_tax_years(all_assets, load_settings()),
        asset_checks=asset_checks,
        jobs=[
            *(
                dg.define_asset_job(f"stage_{stage}", selection=dg.AssetSelection.groups(stage))
                for stage in STAGES
            ),
            # A department's two runs of a municipality, stage by stage (#19).
            *(
                dg.define_asset_job(job_name(stage, phase), selection=selection)
                for phase, stages in PHASE_STAGES.items()
                for stage in stages
                for selection in [phase_selection(phase, (stage,))]
            ),
        ],
        resources={
            "warehouse": WarehouseResource.configure_at_launch(),
            "settings": FiscalSettings.configure_at_launch(),
        },
        executor=celery_executor,
    )


# The stages that have assets in each of a department's two runs (fiscal_intel.runner): the
# first runs every stage but the score tables and what reads them, the second those.
PHASE_STAGES = {"before_choice": STAGES, "after_choice": ("scoring", "marts")}


def job_name(stage: str, phase: str = "whole") -> str:
    return f"stage_{stage}" if phase == "whole" else f"stage_{stage}_{phase}"


defs = _definitions()


def run_config(settings, broker: str, backend: str, log_level: str = "CRITICAL") -> dict:
    """The run config carrying one municipality's settings to the workers."""
    from fiscal_intel.resources import FiscalSettings

    return {
        "resources": {
            "warehouse": {
                "config": {
                    "database": str(settings.warehouse),
                    "lock_timeout": settings.lock_timeout,
                    "connection_config": {"memory_limit": settings.duckdb_memory_limit},
                }
            },
            "settings": {
                "config": {name: getattr(settings, name) for name in FiscalSettings.model_fields}
            },
        },
        "execution": {"config": {"broker": broker, "backend": backend}},
        "loggers": {"console": {"config": {"log_level": log_level}}},
    }


def run_pipeline_celery(
    settings,
    instance: dg.DagsterInstance,
    *,
    broker: str,
    backend: str,
    phase: str = "whole",
    record=None,
    chosen: bool = False,
) -> list:
    """Materialise every stage of one municipality through the Celery workers; raise
    ``PipelineError`` on the first failure, as ``run_pipeline`` does. The workers take the
    warehouse lock per connection, so this process holds none. ``phase``, ``record`` and
    ``chosen``: a department's two runs of the municipality, as ``run_municipality`` does them
    in process (the first returns with ``record`` still ``running``; the second finishes,
    logs and publishes it, ranking as ``marts.model_choice`` says when ``chosen``)."""
    from dagster._core.definitions.reconstruct import ReconstructableRepository

    from fiscal_intel.partitions import all_tax_years
    from fiscal_intel.run_events import check_outcomes, failure_reason, stage_result_of
    from fiscal_intel.runner import (
        PARTITIONED_STAGES,
        PipelineError,
        close_run,
        merge_stages,
        open_run,
    )
    from fiscal_intel.scoring.choice import MODEL_CHOICE_TAG

    repo = ReconstructableRepository.for_module(MODULE, "defs")
    config = run_config(settings, broker, backend)
    record = open_run(settings, phase, record)  # as run_pipeline does
    try:
        for stage in PHASE_STAGES.get(phase, STAGES):
            start = time.perf_counter()
            with dg.execute_job(
                repo.get_reconstructable_job(job_name(stage, phase)),
                instance=instance,
                run_config=config,
                raise_on_error=False,
                tags={
                    "fiscal_intel/stage": stage,
                    "fiscal_intel/run_id": record.run_id,
                    "fiscal_intel/municipality": settings.municipality,
                    **(all_tax_years(settings) if stage in PARTITIONED_STAGES else {}),
                    **({"fiscal_intel/phase": phase} if phase != "whole" else {}),
                    **({MODEL_CHOICE_TAG: "marts.model_choice"} if chosen else {}),
                },
            ) as result:
                events = [
                    e.dagster_event for e in instance.all_logs(result.run_id) if e.dagster_event
                ]
                success = result.success
            stage_result = stage_result_of(stage, time.perf_counter() - start, events)
            merge_stages(record.stages, [stage_result])
            _, blocking, _ = check_outcomes(events)
            if blocking or not success:
                record.failed_stage = stage
                reason = blocking[0] if blocking else failure_reason(events)
                raise PipelineError(f"stage {stage}: {reason}")
        record.status = "success"
    except BaseException as exc:
        record.status, record.message = "failed", str(exc)
        raise
    finally:
        close_run(settings, STAGES, phase, record)  # logged, published, marked as in process
    return record.stages
