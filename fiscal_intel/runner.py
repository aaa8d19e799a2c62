"""Materialise the pipeline stage by stage, as the CLI and the tests do.

Each stage (an asset group) is one in-process Dagster run over the same definitions, so a stage
can be timed and reported, and a failed blocking check stops the stages after it with its reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import dagster as dg

from fiscal_intel.jobs import STAGES
from fiscal_intel.resources import build_resources
from fiscal_intel.settings import Settings


class PipelineError(Exception):
    """A stage failed; the message is one line that says which asset or check and why."""


@dataclass
class StageResult:
    stage: str
    seconds: float
    assets: int
    metadata: dict[str, dict] = field(default_factory=dict)


def _assets_and_checks() -> list:
    from fiscal_intel.assets.checks import asset_checks
    from fiscal_intel.definitions import all_assets

    return [*all_assets, *asset_checks]


def _failure_reason(result: dg.ExecuteInProcessResult) -> str:
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            error = event.step_failure_data.error
            message = error.message.strip() if error else "unknown error"
            # Dagster wraps user errors: the cause says what actually went wrong.
            while error is not None and error.cause is not None:
                error = error.cause
                message = error.message.strip()
            if event.step_failure_data.user_failure_data is not None:
                message = event.step_failure_data.user_failure_data.description or message
            return f"{event.step_key}: {message.splitlines()[0]}"
    return "the run failed without a step failure (see the Dagster logs)"


def _failed_checks(result: dg.ExecuteInProcessResult) -> list[str]:
    failed = []
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
            key = evaluation.asset_key.to_user_string()
            failed.append(f"check {key}:{evaluation.check_name} failed: {evaluation.description}")
    return failed


def run_pipeline(
    settings: Settings,
    *,
    stages: tuple[str, ...] = STAGES,
    on_stage: Callable[[StageResult], None] | None = None,
    log_level: str = "WARNING",
) -> list[StageResult]:
    """Materialise every stage in order; raise :class:`PipelineError` on the first failure."""
    resources = build_resources(settings)
    definitions = _assets_and_checks()
    results = []
    with dg.DagsterInstance.ephemeral() as instance:
        for stage in stages:
            start = time.perf_counter()
            result = dg.materialize(
                definitions,
                selection=dg.AssetSelection.groups(stage),
                resources=resources,
                instance=instance,
                raise_on_error=False,
                run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
                tags={"fiscal_intel/stage": stage},
            )
            if not result.success:
                raise PipelineError(f"stage {stage}: {_failure_reason(result)}")
            failed = _failed_checks(result)
            if failed:
                raise PipelineError(f"stage {stage}: {failed[0]}")
            materializations = result.get_asset_materialization_events()
            stage_result = StageResult(
                stage,
                time.perf_counter() - start,
                len(materializations),
                {
                    e.asset_key.to_user_string(): {
                        k: v.value for k, v in e.materialization.metadata.items()
                    }
                    for e in materializations
                },
            )
            results.append(stage_result)
            if on_stage:
                on_stage(stage_result)
    return results
