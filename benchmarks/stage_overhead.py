"""Dagster's own time around our steps, per stage: a stage's wall time less its steps' time.

The claim it measures (formerly a timed assertion in tests/test_profile.py, which failed on a
busy machine): steps run one after another in-process and Dagster's time around them is a
fraction of a second per stage, not a hidden cost. On the hand-written landing folder
(``tests/fixtures/landing_small``), the whole pipeline is run ``--repeats`` times into fresh
warehouses in one process (the first run also pays imports and first-use caches and is
reported apart). Prints a table and writes ``benchmarks/stage_overhead_results.json`` with the
load average before and after, since the numbers move with the machine's load.

    .venv/bin/python benchmarks/stage_overhead.py [--repeats 5] [--stages ref,raw,...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "landing_small"
OUT = Path(__file__).with_name("stage_overhead_results.json")
BOUND_SECONDS = 1.0  # the old test's bound on Dagster's time around one stage's steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--stages", default="", help="comma-separated; default: every stage")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    sys.path.insert(0, str(ROOT))
    from fiscal_intel.runner import run_pipeline
    from fiscal_intel.settings import load_settings

    stages = tuple(s for s in args.stages.split(",") if s) or None
    load_before = os.getloadavg()
    runs: list[dict[str, dict[str, float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats + 1):  # run 0 warms up
            settings = load_settings(landing=str(FIXTURE), warehouse=f"{tmp}/w{i}.duckdb")
            kwargs = {"stages": stages} if stages else {}
            started = time.perf_counter()
            results = run_pipeline(settings, **kwargs)
            total = time.perf_counter() - started
            runs.append(
                {
                    "_run": {"seconds": total},
                    **{
                        r.stage: {
                            "seconds": r.seconds,
                            "steps_seconds": sum(r.steps.values()),
                            "steps": len(r.steps),
                            "around_steps": r.seconds - sum(r.steps.values()),
                        }
                        for r in results
                    },
                }
            )
    load_after = os.getloadavg()
    warm, measured = runs[0], runs[1:]
    names = [k for k in measured[0] if k != "_run"]
    summary = {}
    for name in names:
        around = [r[name]["around_steps"] for r in measured]
        summary[name] = {
            "steps": measured[0][name]["steps"],
            "seconds_median": statistics.median(r[name]["seconds"] for r in measured),
            "around_steps_median": statistics.median(around),
            "around_steps_max": max(around),
            "around_steps_first_run": warm[name]["around_steps"],
            "within_bound": max(around) < BOUND_SECONDS,
        }
    result = {
        "landing": str(FIXTURE.relative_to(ROOT)),
        "repeats": args.repeats,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_before": load_before, "load_average_after": load_after},
        "bound_seconds": BOUND_SECONDS,
        "run_seconds_median": statistics.median(r["_run"]["seconds"] for r in measured),
        "stages": summary,
    }  # fmt: skip
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"{'stage':10} {'steps':>5} {'stage s':>8} {'around steps s':>15} {'max':>6} "
          f"{'1st run':>8}  < {BOUND_SECONDS:.0f} s")  # fmt: skip
    for name, row in summary.items():
        print(f"{name:10} {row['steps']:5d} {row['seconds_median']:8.2f} "
              f"{row['around_steps_median']:15.2f} {row['around_steps_max']:6.2f} "
              f"{row['around_steps_first_run']:8.2f}  "
              f"{'yes' if row['within_bound'] else 'NO'}")  # fmt: skip
    print(f"load average before {load_before[0]:.1f}, after {load_after[0]:.1f} "
          f"({os.cpu_count()} CPUs); wrote {args.out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
