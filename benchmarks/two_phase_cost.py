"""What splitting a municipality's run in two costs (issue #19): CPU of one whole run against
the department's two runs (``before_choice`` then ``after_choice``, fiscal_intel.runner) of the
same municipality, in one warm process, rounds alternating.

Each municipality of the department landing given (``--codes``; default its smallest three) is
copied to a scratch folder and run ``--rounds`` times each way into a fresh warehouse, one
after the other in this process after a warm-up run (the first run of a process pays the
imports and Dagster's first-run caches). The second run ranks with the own model (no choice
tag), so both ways do the same data work: the difference is the cost of the second Dagster
run (its plan, run record, events) and of the marker between them.

Usage: .venv/bin/python benchmarks/two_phase_cost.py LANDING [--codes 05002 ...] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _cpu() -> float:
    return time.process_time()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("landing")
    parser.add_argument("--codes", nargs="*")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "two_phase_cost.json"))
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from fiscal_intel.department.landing import landing_size, municipality_folders
    from fiscal_intel.department.runner import municipality_settings
    from fiscal_intel.runner import AFTER_CHOICE, BEFORE_CHOICE, WHOLE, run_pipeline
    from fiscal_intel.settings import load_settings

    folders = municipality_folders(Path(args.landing))
    codes = args.codes or sorted(folders, key=lambda c: landing_size(folders[c]))[:3]
    scratch = Path(tempfile.mkdtemp(prefix="two_phase_"))
    base = load_settings()

    def run(code: str, way: str) -> dict:
        wh = scratch / f"{code}-{way}"
        shutil.rmtree(wh, ignore_errors=True)
        wh.mkdir()
        settings = municipality_settings(base, code, folders[code], wh)
        start, wall = _cpu(), time.perf_counter()
        if way == "whole":
            run_pipeline(settings, phase=WHOLE, log_level="CRITICAL")
        else:
            run_pipeline(settings, phase=BEFORE_CHOICE, log_level="CRITICAL")
            middle = _cpu()
            run_pipeline(settings, phase=AFTER_CHOICE, log_level="CRITICAL")
        out = {"cpu": round(_cpu() - start, 2), "wall": round(time.perf_counter() - wall, 2)}
        if way != "whole":
            out["second_cpu"] = round(_cpu() - middle, 2)
        return out

    run(codes[0], "whole")  # warm-up: imports, Dagster's and GX's first-run caches
    samples: dict[str, dict[str, list[dict]]] = {c: {"whole": [], "two": []} for c in codes}
    loads = [os.getloadavg()[0]]
    for _ in range(args.rounds):
        for code in codes:
            for way in ("whole", "two"):
                samples[code][way].append(run(code, way))
                print(code, way, samples[code][way][-1], flush=True)
        loads.append(os.getloadavg()[0])
    shutil.rmtree(scratch, ignore_errors=True)
    summary = {
        code: {
            "taxpayers_files_bytes": landing_size(folders[code]),
            "whole_cpu_median": statistics.median(s["cpu"] for s in ways["whole"]),
            "two_cpu_median": statistics.median(s["cpu"] for s in ways["two"]),
            "second_run_cpu_median": statistics.median(s["second_cpu"] for s in ways["two"]),
        }
        for code, ways in samples.items()
    }
    for s in summary.values():
        s["extra_cpu"] = round(s["two_cpu_median"] - s["whole_cpu_median"], 2)
    result = {"codes": codes, "rounds": args.rounds, "load_1min": [round(x, 1) for x in loads],
              "samples": samples, "summary": summary}  # fmt: skip
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
