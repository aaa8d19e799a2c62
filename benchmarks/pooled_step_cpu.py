"""CPU of the department's pooled step alone (issue #19), in turn in this process, on copies of
a department's built warehouses: ``pooled_step`` over every municipality of ``WH`` (the code on
``PYTHONPATH`` decides what the step does: before the two-run design it also re-scored and
rebuilt the lists of the municipalities whose choice is not their own model).

Usage: .venv/bin/python benchmarks/pooled_step_cpu.py LANDING WH [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("landing")
    parser.add_argument("wh")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    from fiscal_intel.department.runner import municipality_settings, pooled_step
    from fiscal_intel.settings import load_settings

    landing, source = Path(args.landing), Path(args.wh)
    codes = sorted(p.stem for p in source.glob("[0-9]" * 5 + ".duckdb"))
    wh = Path(tempfile.mkdtemp(prefix="pooled_step_"))
    for code in codes:
        shutil.copy(source / f"{code}.duckdb", wh / f"{code}.duckdb")
    jobs = {c: municipality_settings(load_settings(), c, landing / c, wh) for c in codes}
    load = os.getloadavg()[0]
    cpu, wall = time.process_time(), time.perf_counter()
    result = pooled_step(jobs)
    out = {
        "code": str(Path(sys.modules["fiscal_intel"].__file__).parent),
        "municipalities": len(codes),
        "cpu_seconds": round(time.process_time() - cpu, 1),
        "wall_seconds": round(time.perf_counter() - wall, 1),
        "load_1min": [round(load, 1), round(os.getloadavg()[0], 1)],
        "choices": {c: {p: r["choice"] for p, r in v.items()} for c, v in result.choices.items()},
        "failed": result.failed,
    }
    shutil.rmtree(wh, ignore_errors=True)
    print(json.dumps({k: v for k, v in out.items() if k != "choices"}))
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
