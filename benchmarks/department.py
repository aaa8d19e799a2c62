"""Department benchmark (issue #19): a generated department end to end, serial and with 2
workers, the largest municipality alone, and each municipality's time in a warm worker.

Runs ``fiscal-intel run --warehouse-dir`` as a fresh process each time (so the fixed costs are
in the wall time) and parses the per-municipality lines it prints. Writes
benchmarks/department_results.json. Generated landings are cached in data/bench/.

Usage: .venv/bin/python benchmarks/department.py [--municipalities 5] [--city 1500]
       [--small 300 600] [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINE = re.compile(r"^\s+(\d{5}) (\w+)\s+([\d.]+) s")


def _run(landing: Path, out: Path, workers: int, only: list[str] | None = None) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [str(ROOT / ".venv/bin/fiscal-intel"), "run", "--landing", str(landing),
           "--warehouse-dir", str(out), "--workers", str(workers)]  # fmt: skip
    if only:
        cmd += ["--municipality", *only]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    per = {m[1]: float(m[3]) for m in map(LINE.match, done.stdout.splitlines()) if m}
    if done.returncode != 0:
        sys.exit(f"run failed ({done.returncode}): {done.stderr[-2000:]}")
    return {"wall_seconds": round(wall, 1), "municipality_seconds": per}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--municipalities", type=int, default=5)
    parser.add_argument("--city", type=int, default=1_500)
    parser.add_argument("--small", type=int, nargs=2, default=(300, 600))
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "department_results.json"))
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from fiscal_intel.demo.department import department_plan, generate_department

    plan = department_plan(args.municipalities, city_taxpayers=args.city, small=tuple(args.small))
    base = ROOT / "data" / "bench" / f"department-{args.municipalities}-{args.city}"
    landing = base / "landing"
    if not landing.is_dir():
        generate_department(landing, base / "truth", plan)
    city = plan[0][0]
    runs: dict[str, list[dict]] = {"serial": [], "workers_2": [], "largest_alone": []}
    for _ in range(args.repeats):
        runs["largest_alone"].append(_run(landing, base / "wh-alone", 1, [city]))
        runs["serial"].append(_run(landing, base / "wh-serial", 1))
        runs["workers_2"].append(_run(landing, base / "wh-2", 2))

    def median(kind: str) -> float:
        return statistics.median(r["wall_seconds"] for r in runs[kind])

    alone = median("largest_alone")
    # In a serial run every municipality after the first runs in a warm process: its seconds
    # there are its marginal cost; the process's wall time minus their sum is the fixed cost.
    serial = runs["serial"][0]
    per = serial["municipality_seconds"]
    fixed = serial["wall_seconds"] - sum(per.values())
    small = [per[c] for c, _, _ in plan[1:] if c in per]  # every municipality but the city
    result = {
        "plan": [{"code": c, "taxpayers": n, "seed": s} for c, n, s in plan],
        "repeats": args.repeats,
        "runs": runs,
        "median_wall_seconds": {k: median(k) for k in runs},
        "department_over_largest_alone": {
            "serial": round(median("serial") / alone, 2),
            "workers_2": round(median("workers_2") / alone, 2),
        },
        "serial_fixed_seconds": round(fixed, 1),
        "serial_fixed_share": round(fixed / serial["wall_seconds"], 3),
        "small_municipality_marginal_seconds": sorted(small),
        "load_average_1min_at_end": round(__import__("os").getloadavg()[0], 1),
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result["median_wall_seconds"]), result["department_over_largest_alone"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
