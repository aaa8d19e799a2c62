"""CPU of the raw stage's loading alone: ``load_source`` for every source of a municipality.

Without Dagster, GX or the other stages: what ``fiscal_intel.ingest.loader`` costs, measured the
way ``benchmarks/department_cost.md`` reads it (issue #19, "The typing query of a small file").

- Default: the three generated 300-taxpayer municipalities of ``municipality_cost.py`` (demo
  department mode, seeds 19001-19003), each loaded into a new DuckDB file, ``--rounds`` times in
  this one process; every load but the first is a warm sample.
- ``--taxpayers N`` (N > 300): one municipality of N taxpayers (``fiscal_intel.demo.generate``,
  seed 42, the city of the generated department is 15,000), loaded ``--rounds`` times.

Prints CPU seconds (``time.process_time``: DuckDB's threads included) per load and the median of
the warm ones, with the 1-minute load average (CPU seconds grow with the load too: compare runs
made side by side). ``--keep DIR`` leaves the warehouses there (for ``compare_warehouses.py``).

Usage: .venv/bin/python benchmarks/raw_cost.py [--rounds 3] [--taxpayers 15000] [--out F.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from municipality_cost import PLAN, append_result  # the same three municipalities

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--taxpayers", type=int, default=300)
    parser.add_argument("--keep", help="folder for the warehouses (default: a temporary one)")
    parser.add_argument("--out", help="append the results as JSON to this file")
    parser.add_argument("--label", default="")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import duckdb

    from fiscal_intel.ingest.loader import LoadBounds, load_source
    from fiscal_intel.ingest.mappings import load_mapping
    from fiscal_intel.ingest.sources import SOURCES

    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        if args.taxpayers == 300:
            from fiscal_intel.demo.department import generate_department

            generate_department(base / "landing", base / "truth", PLAN)
            landings = [(code, base / "landing" / code) for code, _, _ in PLAN]
        else:
            from fiscal_intel.demo import generate

            generate(base / "landing", base / "truth", taxpayers=args.taxpayers, seed=42)
            landings = [("city", base / "landing")]
        out = Path(args.keep) if args.keep else base / "warehouses"
        out.mkdir(parents=True, exist_ok=True)
        rows = []
        for _ in range(args.rounds):
            for code, landing in landings:
                path = out / f"{code}.duckdb"
                path.unlink(missing_ok=True)
                con = duckdb.connect(str(path))
                load = os.getloadavg()[0]
                cpu, wall = time.process_time(), time.perf_counter()
                read = 0
                for source in SOURCES.values():
                    result = load_source(
                        con,
                        source,
                        landing / source.name,
                        mapping=load_mapping(source),
                        bounds=LoadBounds(),
                    )
                    read += result.total("rows_read")
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                con.close()
                row = {
                    "code": code,
                    "rows_read": read,
                    "cpu_seconds": round(cpu, 3),
                    "wall_seconds": round(wall, 2),
                    "load_average_1min": round(load, 1),
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
    warm = [r["cpu_seconds"] for r in rows[1:]] or [rows[0]["cpu_seconds"]]
    summary = {
        "label": args.label,
        "taxpayers": args.taxpayers,
        "loads": rows,
        "warm_cpu_median": round(statistics.median(warm), 3),
    }
    print(f"raw loading, warm CPU median: {summary['warm_cpu_median']} s")
    if args.out:
        append_result(Path(args.out), summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
