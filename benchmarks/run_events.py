"""What Dagster stores for one warm 300-taxpayer municipality's run (issue #19).

Runs two generated 300-taxpayer municipalities (seeds 19001 and 19002, codes 05615 and 05002:
the data of ``benchmarks/municipality_cost.py``) one after the other in this process with
``fiscal_intel.department.runner.run_municipality`` and a persistent instance, then reads the
second one's runs from the SQLite event log: steps, events and serialized bytes per event type
(the run's own file; asset and check events are copied into the index file too).

Usage: .venv/bin/python benchmarks/run_events.py [--out FILE.json] [--label NAME] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLAN = [("05615", 300, 19001), ("05002", 300, 19002)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="append the results as JSON to this file")
    parser.add_argument("--label", default="", help="a name for this measurement in the JSON")
    parser.add_argument("--keep", help="copy the second municipality's run files here")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    from fiscal_intel.demo.department import generate_department
    from fiscal_intel.department.runner import municipality_settings, run_municipality
    from fiscal_intel.settings import load_settings

    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        landing = base / "landing"
        generate_department(landing, base / "truth", PLAN)
        home = base / "dagster_home"
        os.environ["DAGSTER_HOME"] = str(home)
        settings = load_settings(landing=str(landing))
        runs_dir = home / "history" / "runs"
        seen: set[Path] = set()
        for code, _, _ in PLAN:
            seen = set(runs_dir.glob("*.db")) if runs_dir.exists() else set()
            result = run_municipality(
                municipality_settings(settings, code, landing / code, base / "w"), code
            )
            if result.status != "success":
                sys.exit(f"{code}: {result.status}: {result.message}")
        last = sorted(set(runs_dir.glob("*.db")) - seen - {runs_dir / "index.db"})
        summary = {"label": args.label, "code": PLAN[-1][0], "runs": len(last), **count(last)}
        if args.keep:
            Path(args.keep).mkdir(parents=True, exist_ok=True)
            for file in last:
                shutil.copy(file, Path(args.keep) / file.name)
    print(json.dumps(summary, indent=1))
    if args.out:
        path = Path(args.out)
        previous = json.loads(path.read_text()) if path.is_file() else []
        path.write_text(json.dumps([*previous, summary], indent=1) + "\n", encoding="utf-8")
    return 0


def count(files: list[Path]) -> dict:
    """Steps, events and bytes (the serialized event's length) by event type in ``files``."""
    events: Counter[str] = Counter()
    size: Counter[str] = Counter()
    for file in files:
        with sqlite3.connect(file) as con:
            for kind, n, total in con.execute(
                "select coalesce(dagster_event_type, 'LOG'), count(*), sum(length(event)) "
                "from event_logs group by 1"
            ):
                events[kind] += n
                size[kind] += total
    return {
        "steps": events["STEP_START"],
        "events": sum(events.values()),
        "bytes": sum(size.values()),
        "by_type": {
            k: {"events": events[k], "bytes": size[k]} for k, _ in size.most_common()
        },
    }


if __name__ == "__main__":
    sys.exit(main())
