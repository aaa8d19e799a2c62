"""Schedules: rebuild the lists and marts every night, retrain the models once a year."""

import dagster as dg

from fiscal_intel.jobs import nightly, yearly_retrain
from fiscal_intel.partitions import all_tax_years
from fiscal_intel.resources import FiscalSettings

TIMEZONE = "America/Bogota"
# Both start STOPPED: the deployment turns them on (UI toggle, or `dagster schedule start NAME`).


@dg.schedule(
    name="nightly_lists_and_marts",
    job=nightly,
    cron_schedule="0 2 * * *",
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Every night at 02:00: staging, features, scores and marts from what is loaded.",
)
def nightly_schedule(
    context: dg.ScheduleEvaluationContext, settings: FiscalSettings
) -> dg.RunRequest:
    # All tax-year partitions of the deployment's settings in one run (partition-range tags
    # cannot be static schedule tags).
    return dg.RunRequest(
        run_key=f"nightly-{context.scheduled_execution_time:%Y-%m-%d}",
        tags=all_tax_years(settings.settings),
    )


# After the April filing deadline and the spring audit closures, so a year's new labels count.
yearly_retrain_schedule = dg.ScheduleDefinition(
    name="yearly_model_retrain",
    job=yearly_retrain,
    cron_schedule="0 3 15 6 *",
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Every 15 June at 03:00: retrain both risk models on every closed audit.",
)

schedules = [nightly_schedule, yearly_retrain_schedule]
