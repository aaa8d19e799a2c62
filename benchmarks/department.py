"""Department benchmark (issue #19): a generated department end to end, serial and with 2
workers, the largest municipality alone, and each municipality's time in a warm worker.

Runs ``fiscal-intel run --warehouse-dir`` as a fresh process each time (so the fixed costs are
in the wall time) and parses the per-municipality lines it prints. Writes
benchmarks/department_results.json. Generated landings are cached in data/bench/.

The default is the issue's department: the demo's department mode (``fiscal-intel demo
--municipalities 21``: a 15,000-taxpayer city and 20 municipalities of 300-3,000, each its own
world). Besides wall seconds, each run's CPU seconds (the process and its workers, from
``getrusage``) are recorded: on a shared machine the wall time moves with the load, CPU much less.

``--extra N`` adds a fourth run to each repeat: the same department plus N municipalities of
300 taxpayers (the next DANE codes of the plan's list, each in its own small world), with 2
workers. Its wall time minus the department's in the same repeat, over N, is what a
300-taxpayer municipality adds to a department's run (the issue's "marginal time"), measured
end to end rather than inferred from CPU.

Usage: .venv/bin/python benchmarks/department.py [--municipalities 21] [--city 15000]
       [--small 300 3000] [--repeats 1] [--skip serial workers_2 largest_alone] [--extra 8]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("largest_alone", "serial", "workers_2", "workers_2_extra")
EXTRA_TAXPAYERS = 300
LINE = re.compile(r"^\s+(\d{5}) (\w+)\s+([\d.]+) s")


def _run(landing: Path, out: Path, workers: int, only: list[str] | None = None) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [str(ROOT / ".venv/bin/fiscal-intel"), "run", "--landing", str(landing),
           "--warehouse-dir", str(out), "--workers", str(workers)]  # fmt: skip
    if only:
        cmd += ["--municipality", *only]
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    per = {m[1]: float(m[3]) for m in map(LINE.match, done.stdout.splitlines()) if m}
    if done.returncode != 0:
        sys.exit(f"run failed ({done.returncode}): {done.stderr[-2000:]}")
    result = {
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(cpu, 1),
        "load_average_1min": [round(load, 1), round(os.getloadavg()[0], 1)],
        "municipality_seconds": per,
    }
    print(json.dumps({k: v for k, v in result.items() if k != "municipality_seconds"}),
          flush=True)  # fmt: skip
    return result


def _write(args: argparse.Namespace, plan: list, runs: dict[str, list[dict]]) -> dict:
    def median(kind: str, what: str = "wall_seconds") -> float:
        return statistics.median(r[what] for r in runs[kind])

    done = [k for k in runs if runs[k]]
    taxpayers = {c: n for c, n, _ in plan}
    result: dict = {
        "plan": [{"code": c, "taxpayers": n, "seed": s} for c, n, s in plan],
        "repeats": {k: len(runs[k]) for k in done},
        "runs": runs,
        "median_wall_seconds": {k: median(k) for k in done},
        "median_cpu_seconds": {k: median(k, "cpu_seconds") for k in done},
    }
    if "largest_alone" in done:
        alone = median("largest_alone")
        result["department_over_largest_alone"] = {
            k: round(median(k) / alone, 2) for k in ("serial", "workers_2") if k in done
        }
    if "workers_2_extra" in done and "workers_2" in done:
        # Paired within a repeat: the two runs follow each other on the same machine state.
        extra = args.extra
        pairs = list(zip(runs["workers_2"], runs["workers_2_extra"], strict=False))
        result["extra_municipalities"] = {"count": extra, "taxpayers": EXTRA_TAXPAYERS}
        result["marginal_wall_seconds_per_extra"] = [
            round((b["wall_seconds"] - a["wall_seconds"]) / extra, 2) for a, b in pairs
        ]
        result["marginal_cpu_seconds_per_extra"] = [
            round((b["cpu_seconds"] - a["cpu_seconds"]) / extra, 2) for a, b in pairs
        ]
        result["median_marginal_wall_seconds_per_extra"] = statistics.median(
            result["marginal_wall_seconds_per_extra"]
        )
        result["median_marginal_cpu_seconds_per_extra"] = statistics.median(
            result["marginal_cpu_seconds_per_extra"]
        )
    if "serial" in done:
        # In a serial run every municipality after the first runs in a warm process: its
        # seconds there are its marginal cost; the wall time minus their sum is the fixed cost
        # (interpreter, imports, the department's own view and report).
        serial = runs["serial"][0]
        per = serial["municipality_seconds"]
        fixed = serial["wall_seconds"] - sum(per.values())
        first = next(iter(per), None)  # the first one run (the largest) pays the first-run costs
        result["serial_fixed_seconds"] = round(fixed, 1)
        result["serial_fixed_share"] = round(fixed / serial["wall_seconds"], 3)
        # Each municipality's cost: its own seconds plus an equal part of the fixed ones.
        part = fixed / len(per)
        result["serial_fixed_seconds_per_municipality"] = round(part, 2)
        result["median_fixed_share_per_municipality"] = round(
            statistics.median(part / (part + seconds) for seconds in per.values()), 3
        )
        result["marginal_seconds_by_taxpayers"] = sorted(
            [taxpayers[c], seconds] for c, seconds in per.items() if c != first
        )
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--municipalities", type=int, default=21)
    parser.add_argument("--city", type=int, default=15_000)
    parser.add_argument("--small", type=int, nargs=2, default=(300, 3_000))
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--skip", nargs="*", default=[], choices=KINDS)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "department_results.json"))
    parser.add_argument(
        "--extra", type=int, default=0,
        help=f"also run the department plus this many {EXTRA_TAXPAYERS}-taxpayer municipalities",
    )  # fmt: skip
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from fiscal_intel.demo.department import (
        ANTIOQUIA,
        department_plan,
        generate_department,
        small_world,
    )
    from fiscal_intel.demo.generator import generate

    kinds = [k for k in KINDS if k not in args.skip and (k != "workers_2_extra" or args.extra)]

    plan = department_plan(args.municipalities, city_taxpayers=args.city, small=tuple(args.small))
    base = ROOT / "data" / "bench" / f"department-{args.municipalities}-{args.city}"
    landing = base / "landing"
    if not landing.is_dir():
        generate_department(landing, base / "truth", plan)
    city = plan[0][0]
    if args.extra:
        codes = ANTIOQUIA[args.municipalities : args.municipalities + args.extra]
        if len(codes) < args.extra:
            sys.exit(f"--extra: only {len(codes)} more DANE codes in the plan's list")
        # Seeds apart from the plan's (department seed 19: 19000 + i).
        plus = base / f"landing-plus-{args.extra}"
        if not plus.is_dir():
            shutil.copytree(landing, plus)
            for i, code in enumerate(codes):  # each a small office in its own world
                generate(
                    plus / code, base / f"truth-plus-{args.extra}" / code,
                    taxpayers=EXTRA_TAXPAYERS, seed=77_000 + i, municipality=code,
                    world=small_world(code, 77_000 + i),
                )  # fmt: skip
    runs: dict[str, list[dict]] = {k: [] for k in kinds}
    for _ in range(args.repeats):
        for kind in kinds:
            print(kind, flush=True)
            if kind == "largest_alone":
                runs[kind].append(_run(landing, base / "wh-alone", 1, [city]))
            elif kind == "workers_2_extra":
                runs[kind].append(_run(plus, base / "wh-plus", 2))
            else:
                runs[kind].append(_run(landing, base / f"wh-{kind}", 1 if kind == "serial" else 2))
            # Written after every run: what was measured survives an interrupted benchmark.
            _write(args, plan, runs)
    result = _write(args, plan, runs)
    print(
        json.dumps(result.get("median_wall_seconds")), result.get("department_over_largest_alone")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
