"""Where a run's time and memory go: per-stage peak resident memory, the process's age, and the
benchmark phase of each Dagster step (``fiscal-intel run --profile``, ``benchmarks/``).

Memory and age are read from Linux's ``/proc``; elsewhere the functions fall back to the
process's high-water mark (POSIX ``resource``) or return ``None``, so the package imports on any
system.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from typing import Any

from fiscal_intel.run_events import StageResult

# The benchmark's phases, in pipeline order; "overhead" is the time outside any Dagster step.
PHASES: tuple[str, ...] = (
    "generate", "ingest", "validate", "staging", "features", "train", "score", "marts", "overhead"
)  # fmt: skip

_peak_before_reset = 0  # the highest watermark seen before the last reset (the process's peak)
_rss_reset_works: bool | None = None


def _vm_hwm_bytes() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def peak_rss_bytes() -> int:
    """The process's resident-memory high-water mark since the last :func:`reset_peak_rss`.

    Where the kernel's watermark cannot be read or reset (not Linux, a locked-down /proc) this is
    the peak of the whole process so far: an upper bound of the stage's own.
    """
    hwm = _vm_hwm_bytes()
    if hwm is not None:
        return hwm
    try:
        import resource  # POSIX only: elsewhere there is no process watermark to read
    except ImportError:
        return 0

    # ru_maxrss is in KiB on Linux, in bytes on macOS.
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss if sys.platform == "darwin" else maxrss * 1024


def reset_peak_rss() -> bool:
    """Start a new high-water mark (Linux: ``5`` into ``/proc/self/clear_refs``).

    The watermark being dropped is kept, so :func:`process_peak_rss_bytes` stays the peak of the
    whole process. Returns whether the kernel's mark was reset.
    """
    global _peak_before_reset, _rss_reset_works
    _peak_before_reset = max(_peak_before_reset, peak_rss_bytes())
    if _rss_reset_works is False:
        return False
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")
        _rss_reset_works = True
    except OSError:
        _rss_reset_works = False
    return _rss_reset_works


def process_peak_rss_bytes() -> int:
    """The peak resident memory of the whole process so far, across resets."""
    return max(_peak_before_reset, peak_rss_bytes())


def process_seconds() -> float | None:
    """Seconds since this process started (interpreter start-up and imports included), or None.

    Linux: the process's start time in clock ticks since boot (``/proc/self/stat``, field 22)
    against ``/proc/uptime``, both on the boot clock, so resolution is one tick (10 ms).
    """
    try:
        with open("/proc/self/stat", encoding="ascii") as stat:
            # The command name (field 2) may hold spaces: fields are counted after its ')'.
            after_name = stat.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime", encoding="ascii") as uptime:
            up = float(uptime.read().split()[0])
        return max(up - int(after_name[19]) / os.sysconf("SC_CLK_TCK"), 0.0)
    except (OSError, ValueError, IndexError, AttributeError):  # not Linux: no /proc, no sysconf
        return None


@lru_cache(maxsize=1)
def _check_step_keys() -> frozenset[str]:
    # The check steps only (not the definitions, which would make this module wiring): a check
    # that reads only its asset runs in that asset's step and is timed with it
    # (fiscal_intel.assets.checks.with_checks); the others are steps of their own.
    from fiscal_intel.assets.checks import asset_checks

    return frozenset(d.node_def.name for d in asset_checks)


def step_phase(step_key: str) -> str:
    """The benchmark phase a Dagster step belongs to, from its key (``raw__payments`` …)."""
    if step_key in _check_step_keys():
        return "validate"
    prefix, _, name = step_key.partition("__")
    if prefix in ("ref", "raw"):
        return "ingest"
    if prefix in ("staging", "features"):
        return prefix
    if prefix == "scoring":
        # The models are fitted in risk_models (and refitted as of a past date in the backtest);
        # the *_scores steps apply them. Until scoring is split, *_scores also trains.
        return "train" if name in ("risk_models", "backtest") else "score"
    return "marts"  # marts, exports and the evaluation against truth


def run_profile(
    stages: list[StageResult],
    *,
    pipeline_seconds: float,
    startup_seconds: float | None,
    generate_seconds: float = 0.0,
    total_seconds: float | None = None,
    status: str = "success",
) -> dict[str, Any]:
    """Where a run's time and memory went, by stage, step and benchmark phase (JSON-ready).

    ``startup_seconds`` is the process's age when the pipeline started (interpreter, imports and,
    for the demo, generating the data); ``total_seconds`` its age now. Every second of
    ``total_seconds`` is in exactly one phase: what no Dagster step accounts for is "overhead",
    split into start-up, Dagster's own time around the steps of each stage, the rest of the
    pipeline call (lock, resources, run log) and what came after it (the printed summary).
    """
    stage_rows = []
    phases: dict[str, dict[str, Any]] = {
        p: {"seconds": 0.0, "steps": 0, "peak_rss_bytes": None} for p in PHASES
    }
    phases["generate"]["seconds"] = generate_seconds
    in_steps = 0.0
    for stage in stages:
        step_sum = sum(stage.steps.values())
        in_steps += step_sum
        stage_rows.append(
            {
                "stage": stage.stage,
                "seconds": stage.seconds,
                "steps_seconds": step_sum,
                "overhead_seconds": stage.seconds - step_sum,
                "peak_rss_bytes": stage.peak_rss_bytes,
                "steps": {
                    key: {"seconds": seconds, "phase": step_phase(key)}
                    for key, seconds in sorted(stage.steps.items())
                },
            }
        )
        for key, seconds in stage.steps.items():
            phase = phases[step_phase(key)]
            phase["seconds"] += seconds
            phase["steps"] += 1
            # A stage's peak is the only memory measure finer than the run: a phase gets the
            # highest peak among the stages its steps ran in.
            if stage.peak_rss_bytes is not None:
                phase["peak_rss_bytes"] = max(phase["peak_rss_bytes"] or 0, stage.peak_rss_bytes)
    in_stages = sum(s.seconds for s in stages)
    startup = None if startup_seconds is None else max(startup_seconds - generate_seconds, 0.0)
    after = None
    if total_seconds is not None and startup_seconds is not None:
        after = max(total_seconds - startup_seconds - pipeline_seconds, 0.0)
    overhead = {
        "startup": startup,
        "dagster_around_steps": in_stages - in_steps,
        "pipeline_outside_stages": pipeline_seconds - in_stages,
        "after_pipeline": after,
    }
    phases["overhead"]["seconds"] = sum(v for v in overhead.values() if v is not None)
    if total_seconds is None:
        total_seconds = generate_seconds + in_steps + phases["overhead"]["seconds"]
    return {
        "status": status,
        "total_seconds": total_seconds,
        "pipeline_seconds": pipeline_seconds,
        "peak_rss_bytes": process_peak_rss_bytes(),
        "peak_rss_method": (
            "VmHWM, reset at each stage start"
            if _rss_reset_works
            else "process high-water mark so far (the kernel's could not be reset)"
        ),
        "phases": phases,
        "overhead": overhead,
        "stages": stage_rows,
    }
