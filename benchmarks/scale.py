"""Scale benchmark (issue #7): how the pipeline's time and memory grow from 10k to 1M taxpayers.

For each size (taxpayers × 7 years of the demo municipality, cached under ``data/bench/<n>/``):

1. ``fiscal-intel run --profile`` on a fresh warehouse, ``--repeats`` times, each in its own
   process: wall time and peak RSS in total and per phase (ingest, validate, staging, features,
   train, score, marts, and the overhead outside any Dagster step);
2. the physical floor: DuckDB reading the same landing files into tables with ``read_csv`` and
   the contract's types (explicit date format, no sniffing), in its own process;
3. at the peer size only (``--peer-size``, default 100k): the pandas peer
   (``benchmarks/pandas_peer.py``), the same ingest and feature steps written with pandas;

then ``fiscal-intel demo`` at its default size (``--demo-repeats`` times), and the issue's targets
as pass/fail. Peak RSS is measured twice: by the run itself (the kernel's high-water mark, reset
at each stage, so per stage) and by this script sampling the child's VmRSS every 20 ms; the peak
reported is the larger. The repeats of one size run back to back, one process at a time.

Usage: .venv/bin/python benchmarks/scale.py [--sizes 10000 100000 1000000] [--repeats 3]
Writes benchmarks/scale_results.json and benchmarks/RESULTS.md (a "## Limits" section already in
RESULTS.md is kept).
"""

from __future__ import annotations

import argparse
import csv
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
RESULTS_JSON = BENCH / "scale_results.json"
RESULTS_MD = BENCH / "RESULTS.md"
GIB = 2**30
MIB = 2**20
SEED = 42
DEMO_DEFAULT_TAXPAYERS = 15_000  # `fiscal-intel demo` without --taxpayers
PHASES = ("ingest", "validate", "staging", "features", "train", "score", "marts", "overhead")

TARGETS = {
    "floor": "end-to-end at 1M ≤ 2.5 × the physical floor",
    "growth": "time(1M) / time(100k) ≤ 10.5",
    "peer": "≥ 5 × faster than pandas at 100k (ingest+validate+staging+features)",
    "memory": "peak RSS at 1M ≤ 6 GiB",
    "validation": "validation ≤ 25 % of ingest at 1M",
    "demo": "`fiscal-intel demo` at its default size ≤ 60 s wall (median)",
}


# ----------------------------------------------------------------------------------------------
# Measuring a child process
# ----------------------------------------------------------------------------------------------
def _vm_rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def measured(argv: list[str], log: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``argv`` to completion: exit code, wall seconds, sampled peak RSS, CPU seconds."""
    log.parent.mkdir(parents=True, exist_ok=True)
    peak = 0
    with open(log, "wb") as out:
        start = time.perf_counter()
        child = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        done = threading.Event()

        def sample() -> None:
            # The run resets its own high-water mark per stage, which also resets what wait4
            # reports; sampling from outside is the OS's independent view of the peak.
            nonlocal peak
            while not done.is_set():
                peak = max(peak, _vm_rss(child.pid))
                done.wait(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        done.set()
        sampler.join()
    return {
        "exit_code": child.returncode,
        "wall_seconds": wall,
        "sampled_peak_rss_bytes": peak,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "log": str(log.relative_to(ROOT) if log.is_relative_to(ROOT) else log),
    }


# ----------------------------------------------------------------------------------------------
# The cases
# ----------------------------------------------------------------------------------------------
def landing_for(size: int, data: Path) -> Path:
    """The demo municipality of ``size`` taxpayers, generated once and cached."""
    root = data / str(size)
    marker = root / "generated.json"
    stamp = {"taxpayers": size, "seed": SEED}
    if marker.is_file() and json.loads(marker.read_text()) == stamp:
        return root / "landing"
    print(f"generating {size:,} taxpayers into {root} ...", flush=True)
    code = (
        "import sys, json; from pathlib import Path; from fiscal_intel.demo import generate; "
        f"s = generate(Path(sys.argv[1]), Path(sys.argv[2]), taxpayers={size}, seed={SEED}); "
        "print(json.dumps(s.rows))"
    )
    run = measured(
        [sys.executable, "-c", code, str(root / "landing"), str(root / "truth")],
        root / "generate.log",
    )
    if run["exit_code"] != 0:
        raise SystemExit(f"generating {size} failed: see {run['log']}")
    print(
        f"  generated in {run['wall_seconds']:.1f} s, "
        f"peak RSS {run['sampled_peak_rss_bytes'] / MIB:,.0f} MiB",
        flush=True,
    )
    marker.write_text(json.dumps(stamp) + "\n")
    return root / "landing"


def pipeline_run(landing: Path, work: Path, label: str) -> dict[str, Any]:
    warehouse, profile = work / "warehouse.duckdb", work / f"profile_{label}.json"
    for path in (warehouse, Path(f"{warehouse}.wal"), profile):
        path.unlink(missing_ok=True)
    argv = [str(BIN / "fiscal-intel"), "run", "--landing", str(landing),
            "--warehouse", str(warehouse), "--profile", str(profile)]  # fmt: skip
    run = measured(argv, work / f"run_{label}.log")
    if run["exit_code"] != 0:
        raise SystemExit(f"fiscal-intel run failed ({label}): see {run['log']}")
    data = json.loads(profile.read_text())
    run["warehouse_bytes"] = warehouse.stat().st_size
    warehouse.unlink()
    run["profile"] = data
    run["peak_rss_bytes"] = max(run["sampled_peak_rss_bytes"], data["peak_rss_bytes"])
    # What the profile cannot see: the interpreter's exit after the profile is written.
    run["exit_seconds"] = max(run["wall_seconds"] - data["total_seconds"], 0.0)
    return run


FLOOR_CODE = r"""
import csv, json, sys, time
from pathlib import Path
import duckdb
from fiscal_intel.ingest.sources import SOURCES

landing, db = Path(sys.argv[1]), sys.argv[2]
con = duckdb.connect(db)
start = time.perf_counter()
rows = {}
for name, source in SOURCES.items():
    files = sorted(p for p in (landing / name).glob("*.csv"))
    if not files:
        continue
    with open(files[0], newline="", encoding="utf-8") as f:
        header = next(csv.reader(f))
    kinds = {c.name: c.sql_type for c in source.columns}
    columns = {c: kinds.get(c, "varchar") for c in header}
    con.execute(
        f"create table {name} as select * from read_csv($files, header = true, delim = ',', "
        "quote = '\"', columns = $columns, dateformat = '%Y-%m-%d', auto_detect = false)",
        {"files": [str(p) for p in files], "columns": columns},
    )
    rows[name] = con.execute(f"select count(*) from {name}").fetchone()[0]
con.execute("checkpoint")
seconds = time.perf_counter() - start
con.close()
print(json.dumps({"seconds": seconds, "rows": rows}))
"""


def floor_run(landing: Path, work: Path, label: str) -> dict[str, Any]:
    """DuckDB reading every landing CSV into a table of the contract's types: the floor."""
    db = work / "floor.duckdb"
    db.unlink(missing_ok=True)
    log = work / f"floor_{label}.log"
    run = measured([sys.executable, "-c", FLOOR_CODE, str(landing), str(db)], log)
    if run["exit_code"] != 0:
        raise SystemExit(f"the floor failed ({label}): see {run['log']}")
    db.unlink()
    inner = json.loads(log.read_text().strip().splitlines()[-1])
    run.update(inner)  # seconds: the loads alone, without the interpreter's start
    run["peak_rss_bytes"] = run["sampled_peak_rss_bytes"]
    return run


def peer_run(landing: Path, work: Path, label: str) -> dict[str, Any]:
    out = work / f"peer_{label}.json"
    out.unlink(missing_ok=True)
    argv = [sys.executable, str(BENCH / "pandas_peer.py"), "--landing", str(landing),
            "--out", str(out)]  # fmt: skip
    run = measured(argv, work / f"peer_{label}.log")
    if run["exit_code"] != 0:
        raise SystemExit(f"the pandas peer failed ({label}): see {run['log']}")
    run.update(json.loads(out.read_text()))
    run["peak_rss_bytes"] = max(run["sampled_peak_rss_bytes"], run.get("peak_rss_bytes", 0))
    return run


def demo_run(work: Path, label: str) -> dict[str, Any]:
    landing = work / "demo" / "landing"
    warehouse = work / "demo" / "warehouse.duckdb"
    profile = work / f"demo_profile_{label}.json"
    warehouse.unlink(missing_ok=True)
    argv = [str(BIN / "fiscal-intel"), "demo", "--landing", str(landing),
            "--warehouse", str(warehouse), "--profile", str(profile)]  # fmt: skip
    run = measured(argv, work / f"demo_{label}.log")
    if run["exit_code"] != 0:
        raise SystemExit(f"fiscal-intel demo failed ({label}): see {run['log']}")
    run["profile"] = json.loads(profile.read_text())
    run["peak_rss_bytes"] = max(run["sampled_peak_rss_bytes"], run["profile"]["peak_rss_bytes"])
    return run


# ----------------------------------------------------------------------------------------------
# Summaries
# ----------------------------------------------------------------------------------------------
def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarise_pipeline(runs: list[dict[str, Any]]) -> dict[str, Any]:
    phases = {}
    for phase in PHASES:
        rows = [r["profile"]["phases"][phase] for r in runs]
        peaks = [r["peak_rss_bytes"] for r in rows if r["peak_rss_bytes"]]
        phases[phase] = {
            **spread([r["seconds"] for r in rows]),
            "peak_rss_bytes": statistics.median(peaks) if peaks else None,
        }
    overhead = {
        part: spread([r["profile"]["overhead"][part] or 0.0 for r in runs])
        for part in runs[0]["profile"]["overhead"]
    }
    overhead["interpreter_exit"] = spread([r["exit_seconds"] for r in runs])
    steps: dict[str, list[float]] = {}
    for run in runs:
        for stage in run["profile"]["stages"]:
            for key, step in stage["steps"].items():
                steps.setdefault(key, []).append(step["seconds"])
    return {
        "wall": spread([r["wall_seconds"] for r in runs]),
        "peak_rss_bytes": spread([r["peak_rss_bytes"] for r in runs]),
        "cpu_seconds": spread([r["cpu_seconds"] for r in runs]),
        "warehouse_bytes": runs[-1]["warehouse_bytes"],
        "phases": phases,
        "overhead": overhead,
        "slowest_steps": dict(
            sorted(
                ((k, statistics.median(v)) for k, v in steps.items()),
                key=lambda kv: -kv[1],
            )[:12]
        ),
    }


def ingest_to_features(phases: dict[str, Any]) -> float:
    """Our counterpart of the pandas peer: loading, checking, staging and feature building."""
    return sum(phases[p]["median"] for p in ("ingest", "validate", "staging", "features"))


def targets(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    sizes, out = result["sizes"], {}

    def verdict(name: str, value: float | None, limit: float, better: str, detail: str) -> None:
        if value is None:
            out[name] = {"target": TARGETS[name], "status": "not measured", "detail": detail}
            return
        ok = value <= limit if better == "lower" else value >= limit
        out[name] = {"target": TARGETS[name], "value": value, "limit": limit,
                     "status": "pass" if ok else "FAIL", "detail": detail}  # fmt: skip

    big, mid = sizes.get("1000000"), sizes.get("100000")
    if big:
        ratio = big["pipeline"]["wall"]["median"] / big["floor"]["seconds"]["median"]
        verdict("floor", ratio, 2.5, "lower",
                f"{big['pipeline']['wall']['median']:.1f} s / floor "
                f"{big['floor']['seconds']['median']:.2f} s")  # fmt: skip
    else:
        verdict("floor", None, 2.5, "lower", "needs the 1M size")
    if big and mid:
        ratio = big["pipeline"]["wall"]["median"] / mid["pipeline"]["wall"]["median"]
        verdict("growth", ratio, 10.5, "lower",
                f"{big['pipeline']['wall']['median']:.1f} s / "
                f"{mid['pipeline']['wall']['median']:.1f} s")  # fmt: skip
    else:
        verdict("growth", None, 10.5, "lower", "needs the 100k and 1M sizes")
    peer_size = result["peer_size"]
    peer_case = sizes.get(str(peer_size), {})
    if "peer" in peer_case:
        ours = ingest_to_features(peer_case["pipeline"]["phases"])
        theirs = peer_case["peer"]["ingest_features_seconds"]["median"]
        verdict("peer", theirs / ours, 5.0, "higher",
                f"pandas {theirs:.1f} s / ours {ours:.1f} s at {peer_size:,}")  # fmt: skip
        if peer_size != 100_000:
            out["peer"]["status"] += f" (at {peer_size:,}, not 100k)"
    else:
        verdict("peer", None, 5.0, "higher", f"needs the {peer_size:,} size")
    if big:
        peak = big["pipeline"]["peak_rss_bytes"]["max"]
        verdict("memory", peak / GIB, 6.0, "lower", f"{peak / GIB:.2f} GiB (max of the runs)")
        ph = big["pipeline"]["phases"]
        verdict("validation", ph["validate"]["median"] / ph["ingest"]["median"], 0.25, "lower",
                f"validate {ph['validate']['median']:.1f} s / ingest "
                f"{ph['ingest']['median']:.1f} s")  # fmt: skip
    else:
        verdict("memory", None, 6.0, "lower", "needs the 1M size")
        verdict("validation", None, 0.25, "lower", "needs the 1M size")
    demo = result.get("demo")
    if demo:
        verdict("demo", demo["wall"]["median"], 60.0, "lower",
                f"median of {len(demo['runs'])}: {demo['wall']['median']:.1f} s")  # fmt: skip
    else:
        verdict("demo", None, 60.0, "lower", "skipped")
    return out


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
    except OSError:
        pass
    packages = ("duckdb", "dagster", "polars", "lightgbm", "great_expectations", "pandas",
                "numpy", "pyarrow")  # fmt: skip
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_bytes": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": {p: importlib.metadata.version(p) for p in packages},
    }


# ----------------------------------------------------------------------------------------------
# RESULTS.md
# ----------------------------------------------------------------------------------------------
def _s(x: dict[str, float]) -> tuple[str, str]:
    return f"{x['median']:.2f}", f"{x['min']:.2f}–{x['max']:.2f}"


def _mib(x: float | None) -> str:
    return "" if x is None else f"{x / MIB:,.0f}"


def markdown(result: dict[str, Any], limits: str) -> str:
    m = result["machine"]
    pk = m["packages"]
    lines = [
        "# Scale benchmark (issue #7)",
        "",
        "Written by `benchmarks/scale.py` (`make bench`); raw numbers in "
        "`benchmarks/scale_results.json`. Each repeat is its own process on a fresh warehouse; "
        "times are medians with the min–max of the repeats.",
        "",
        f"- Machine: {m['cpu']}, {m['cores']} cores, "
        f"{(m['memory_bytes'] or 0) / GIB:.1f} GiB, {m['os']}",
        f"- Python {m['python']}; duckdb {pk['duckdb']}, dagster {pk['dagster']}, "
        f"polars {pk['polars']}, lightgbm {pk['lightgbm']}, great_expectations "
        f"{pk['great_expectations']}, pandas {pk['pandas']}",
        f"- Repeats: {result['repeats']}; demo municipality seed {SEED}, 7 tax years "
        "(2018–2024); commit " + result.get("commit", "?"),
        "",
        "Phases are Dagster steps classified by key: `ref/*`, `raw/*` → ingest; asset checks → "
        "validate; `staging/*`, `features/*`; `scoring/risk_models` and `scoring/backtest` → "
        "train; other `scoring/*` → score (with the stored models); `marts/*`, `exports/*`, "
        "`evaluation/*` → marts. Overhead is everything no step "
        "accounts for: interpreter start-up and imports, Dagster around the steps, lock, run log, "
        "printed summary, interpreter exit. A phase's peak RSS is the highest peak of the "
        "Dagster runs (stages) its steps ran in; the run's peak is the larger of the kernel's "
        "high-water mark and VmRSS sampled every 20 ms from outside.",
        "",
    ]
    for size, case in result["sizes"].items():
        p = case["pipeline"]
        lines += [
            f"## {int(size):,} taxpayers",
            "",
            f"Landing: {case['landing_rows']:,} rows in {case['landing_files']} files, "
            f"{case['landing_bytes'] / MIB:,.0f} MiB; warehouse "
            f"{p['warehouse_bytes'] / MIB:,.0f} MiB.",
            "",
            "| phase | median s | min–max s | peak RSS MiB |",
            "|---|---:|---:|---:|",
        ]
        for phase in PHASES:
            ph = p["phases"][phase]
            med, rng = _s(ph)
            lines.append(f"| {phase} | {med} | {rng} | {_mib(ph['peak_rss_bytes'])} |")
        med, rng = _s(p["wall"])
        lines.append(
            f"| **total (wall)** | **{med}** | {rng} | **{_mib(p['peak_rss_bytes']['median'])}** |"
        )
        ov = ", ".join(
            f"{k.replace('_', ' ')} {v['median']:.2f} s" for k, v in p["overhead"].items()
        )
        lines += ["", f"Overhead: {ov}. CPU time {p['cpu_seconds']['median']:.1f} s."]
        slow = ", ".join(f"`{k}` {v:.2f}" for k, v in list(p["slowest_steps"].items())[:8])
        lines += ["", f"Slowest steps (median s): {slow}.", ""]
        f = case["floor"]
        med, rng = _s(f["seconds"])
        lines.append(
            f"Physical floor (DuckDB `read_csv` of the same files into typed tables): {med} s "
            f"({rng}), peak RSS {_mib(f['peak_rss_bytes']['median'])} MiB; "
            f"end-to-end / floor = {p['wall']['median'] / f['seconds']['median']:.1f}."
        )
        if "peer" in case:
            q = case["peer"]
            ours = ingest_to_features(p["phases"])
            lines += [
                "",
                "Pandas peer (`benchmarks/pandas_peer.py`): "
                f"ingest {q['ingest_seconds']['median']:.2f} s, features "
                f"{q['features_seconds']['median']:.2f} s, together "
                f"{q['ingest_features_seconds']['median']:.2f} s "
                f"({_s(q['ingest_features_seconds'])[1]}), process wall "
                f"{q['wall']['median']:.1f} s, peak RSS {_mib(q['peak_rss_bytes']['median'])} "
                f"MiB; ours (ingest+validate+staging+features) {ours:.2f} s: "
                f"{q['ingest_features_seconds']['median'] / ours:.2f} × faster.",
            ]
        lines.append("")
    if result.get("demo"):
        d = result["demo"]
        med, rng = _s(d["wall"])
        lines += [
            f"## `fiscal-intel demo` ({DEMO_DEFAULT_TAXPAYERS:,} taxpayers, default)",
            "",
            f"Wall {med} s ({rng}), generating {d['generate_seconds']['median']:.2f} s, peak RSS "
            f"{_mib(d['peak_rss_bytes']['median'])} MiB.",
            "",
        ]
    lines += ["## Targets", "", "| target | value | status | detail |", "|---|---:|---|---|"]
    for t in result["targets"].values():
        value = f"{t['value']:.2f}" if "value" in t else ""
        lines.append(f"| {t['target']} | {value} | {t['status']} | {t['detail']} |")
    lines += ["", limits.rstrip(), ""]
    return "\n".join(lines)


def kept_limits() -> str:
    default = "## Limits\n\n_What limited each stage: to be written after the full run._\n"
    if not RESULTS_MD.is_file():
        return default
    text = RESULTS_MD.read_text(encoding="utf-8")
    at = text.find("\n## Limits")
    return text[at + 1 :] if at >= 0 else default


def landing_stats(landing: Path) -> tuple[int, int, int]:
    files = sorted(p for p in landing.rglob("*.csv"))
    rows = 0
    for path in files:
        with open(path, newline="", encoding="utf-8") as f:
            rows += sum(1 for _ in csv.reader(f)) - 1
    return len(files), rows, sum(p.stat().st_size for p in files)


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                             capture_output=True, check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, text=True, capture_output=True).stdout.strip()  # fmt: skip
        return out + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peer-size", type=int, default=100_000,
                        help="the size the pandas peer runs at (only if among --sizes)")
    parser.add_argument("--demo-repeats", type=int, default=None,
                        help="runs of `fiscal-intel demo` (default: --repeats; 0 skips)")
    parser.add_argument("--data", default=str(ROOT / "data" / "bench"),
                        help="cache of generated landings and scratch warehouses")
    parser.add_argument("--out-json", default=str(RESULTS_JSON))
    parser.add_argument("--out-md", default=str(RESULTS_MD))
    args = parser.parse_args()  # fmt: skip
    data = Path(args.data).resolve()
    demo_repeats = args.repeats if args.demo_repeats is None else args.demo_repeats

    result: dict[str, Any] = {
        "machine": machine(),
        "commit": git_commit(),
        "repeats": args.repeats,
        "peer_size": args.peer_size,
        "sizes": {},
    }
    print(json.dumps(result["machine"]), flush=True)
    for size in sorted(args.sizes):
        landing = landing_for(size, data)
        work = data / str(size) / "runs"
        work.mkdir(parents=True, exist_ok=True)
        files, rows, size_bytes = landing_stats(landing)
        runs, floors, peers = [], [], []
        for i in range(args.repeats):
            label = f"r{i + 1}"
            floors.append(floor_run(landing, work, label))
            print(f"{size:>9,} {label} floor    {floors[-1]['seconds']:7.2f} s", flush=True)
            runs.append(pipeline_run(landing, work, label))
            r = runs[-1]
            print(f"{size:>9,} {label} pipeline {r['wall_seconds']:7.2f} s  "
                  f"peak {r['peak_rss_bytes'] / MIB:,.0f} MiB  " + "  ".join(
                      f"{k} {v['seconds']:.2f}" for k, v in r["profile"]["phases"].items()
                      if k != "generate"), flush=True)  # fmt: skip
            if size == args.peer_size:
                peers.append(peer_run(landing, work, label))
                q = peers[-1]
                print(f"{size:>9,} {label} pandas   ingest {q['ingest_seconds']:.2f} s  "
                      f"features {q['features_seconds']:.2f} s  peak "
                      f"{q['peak_rss_bytes'] / MIB:,.0f} MiB", flush=True)  # fmt: skip
        case: dict[str, Any] = {
            "landing": str(landing),
            "landing_files": files,
            "landing_rows": rows,
            "landing_bytes": size_bytes,
            "pipeline": summarise_pipeline(runs),
            "floor": {
                "seconds": spread([f["seconds"] for f in floors]),
                "wall": spread([f["wall_seconds"] for f in floors]),
                "peak_rss_bytes": spread([f["peak_rss_bytes"] for f in floors]),
                "rows": floors[-1]["rows"],
            },
            "runs": [{k: v for k, v in r.items() if k != "profile"} | {
                "phases": {k: v["seconds"] for k, v in r["profile"]["phases"].items()},
                "stages": [{k: v for k, v in s.items() if k != "steps"}
                           for s in r["profile"]["stages"]],
            } for r in runs],  # fmt: skip
        }
        if peers:
            case["peer"] = {
                key: spread([q[key] for q in peers])
                for key in ("ingest_seconds", "features_seconds", "ingest_features_seconds",
                            "wall_seconds", "peak_rss_bytes")  # fmt: skip
            }
            case["peer"]["wall"] = case["peer"].pop("wall_seconds")
            case["peer"]["rows"] = peers[-1]["rows"]
        result["sizes"][str(size)] = case
    if demo_repeats:
        work = data / "demo_runs"
        demos = []
        for i in range(demo_repeats):
            demos.append(demo_run(work, f"r{i + 1}"))
            print(f"demo r{i + 1} {demos[-1]['wall_seconds']:.2f} s", flush=True)
        result["demo"] = {
            "wall": spread([d["wall_seconds"] for d in demos]),
            "generate_seconds": spread(
                [d["profile"]["phases"]["generate"]["seconds"] for d in demos]
            ),
            "peak_rss_bytes": spread([d["peak_rss_bytes"] for d in demos]),
            "runs": [{k: v for k, v in d.items() if k != "profile"} for d in demos],
        }
    result["targets"] = targets(result)
    Path(args.out_json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    limits = kept_limits()
    Path(args.out_md).write_text(markdown(result, limits), encoding="utf-8")
    for t in result["targets"].values():
        value = f"{t['value']:.2f}" if "value" in t else "-"
        print(f"{t['status']:>13}  {value:>7}  {t['target']}  ({t['detail']})")
    print(f"written: {args.out_json}, {args.out_md}")
    shutil.rmtree(data / "demo_runs" / "demo", ignore_errors=True)


if __name__ == "__main__":
    main()
