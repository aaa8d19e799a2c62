"""What a Dagster run did, read from its events: assets built, checks passed and failed, seconds
per step, and the one-line reason of a failure.

The command-line runner, the Celery runner and the run-status sensors (runs launched by the
daemon or the UI) all read their runs here, so a failure is worded the same way whoever ran it.
Imports nothing of ``fiscal_intel``: every module may use it without making a circle.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dagster as dg


@dataclass
class StageResult:
    stage: str
    seconds: float
    assets: int
    metadata: dict[str, dict] = field(default_factory=dict)
    checks_passed: int = 0
    checks_failed: list[str] = field(default_factory=list)  # ERROR and WARN alike
    steps: dict[str, float] = field(default_factory=dict)  # seconds per Dagster step key
    peak_rss_bytes: int | None = None  # the process's peak resident memory during the stage


def one_line(message: str) -> str:
    """The whole message on one line: a line break (a quoted header spanning lines, a Dagster
    error with its cause) becomes ' / ' rather than cutting the reason short."""
    return " / ".join(line.strip() for line in message.strip().splitlines() if line.strip())


def failure_reason(events: list[dg.DagsterEvent]) -> str:
    """``step_key: why`` for the first failed step, on one line."""
    for event in events:
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            error = event.step_failure_data.error
            message = error.message.strip() if error else "unknown error"
            # Dagster wraps user errors: the cause says what actually went wrong.
            while error is not None and error.cause is not None:
                error = error.cause
                message = error.message.strip()
            if event.step_failure_data.user_failure_data is not None:
                message = event.step_failure_data.user_failure_data.description or message
            return f"{event.step_key}: {one_line(message)}"
    return "the run failed without a step failure (see the Dagster logs)"


def check_outcomes(events: list[dg.DagsterEvent]) -> tuple[int, list[str], list[str]]:
    """Passed count, failed blocking (ERROR) checks, and every failed check, as lines."""
    passed, blocking, failed = 0, [], []
    for event in events:
        if event.event_type != dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            continue
        evaluation = event.event_specific_data
        if evaluation.passed:
            passed += 1
            continue
        key = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
        line = f"check {key} failed: {one_line(evaluation.description or '')}"
        failed.append(line)
        if evaluation.severity == dg.AssetCheckSeverity.ERROR:
            blocking.append(line)
    return passed, blocking, failed


def stage_result_of(stage: str, seconds: float, events: list[dg.DagsterEvent]) -> StageResult:
    """What a Dagster run did, from its events (in-process result or the event log alike)."""
    materializations = [
        e for e in events if e.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION
    ]
    # Per asset, its partitions' metadata merged: the column schema rides on one partition's
    # event only (fiscal_intel.assets.factory.materialized), the rest is the same on each.
    metadata: dict[str, dict] = {}
    for e in materializations:
        metadata.setdefault(e.asset_key.to_user_string(), {}).update(
            {k: v.value for k, v in e.step_materialization_data.materialization.metadata.items()}
        )
    # A failed raw asset still loaded its good files: its Failure carries what it did.
    for event in events:
        failure = event.step_failure_data if event.is_step_failure else None
        if failure is not None and failure.user_failure_data is not None:
            metadata[event.step_key] = {
                k: v.value for k, v in failure.user_failure_data.metadata.items()
            }
    passed, _, failed = check_outcomes(events)
    assets = len({e.asset_key for e in materializations})  # one per asset, not per partition
    steps = {
        e.step_key: e.event_specific_data.duration_ms / 1000
        for e in events
        if e.event_type == dg.DagsterEventType.STEP_SUCCESS and e.step_key is not None
    }
    return StageResult(stage, seconds, assets, metadata, passed, failed, steps)
