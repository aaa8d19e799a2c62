"""How long readers wait while a run goes, and what publishing the read-only copy costs.

On a generated municipality (default 1,500 taxpayers, seed 7): a first run on an empty
warehouse, then a second run on the same landing, each while readers read all along:
``fiscal-intel status`` polled continually, ``fiscal-intel audit-list`` started at random
moments, and an in-process read-only DuckDB connection that opens what BI tools are told to
open and queries a mart (a BI tool's refresh). Every reader's time and outcome is recorded;
a reader's *wait* is its time minus the median time of the same reader with no run going.
Then ``publish`` (checkpoint, copy, fsync, rename) is timed three times on the finished
warehouse.

``--code DIR`` runs the commands from another checkout (e.g. ``git archive`` of main) to
reproduce the failure before the change; there BI reads open the warehouse itself.

    .venv/bin/python benchmarks/readers.py [--taxpayers 1500] [--seed 7] [--code DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
RAW_ERRORS = ("Conflicting lock", "Traceback", "Could not set lock")


def _cli(code: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "GX_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(code)}
    return subprocess.Popen([sys.executable, "-m", "fiscal_intel.cli", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            cwd=code)  # fmt: skip


def _bi_target(warehouse: Path, code: Path) -> Path:
    published = warehouse.with_name(f"{warehouse.stem}.published{warehouse.suffix}")
    return published if (code / "fiscal_intel" / "published.py").is_file() else warehouse


def _bi_read(path: Path) -> tuple[float, str]:
    started = time.perf_counter()
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            con.execute("select count(*) from marts.audit_ranking").fetchall()
        outcome = "ok"
    except duckdb.Error as exc:
        outcome = str(exc).splitlines()[0][:120]
    return time.perf_counter() - started, outcome


def _timed(code: Path, args: tuple[str, ...], into: list) -> threading.Thread:
    """Run a command on a thread; append its time, exit code and output to ``into``."""

    def go() -> None:
        started = time.perf_counter()
        proc = _cli(code, *args)
        out = proc.communicate()[0]
        into.append({"seconds": time.perf_counter() - started, "code": proc.returncode,
                     "raw_error": any(e in out for e in RAW_ERRORS),
                     "waited_line": "waiting for it to finish" in out, "out": out[-300:]})

    thread = threading.Thread(target=go)
    thread.start()
    return thread


def readers_during(run: subprocess.Popen, warehouse: Path, code: Path, work: Path,
                   seed: int) -> dict:  # fmt: skip
    rng = random.Random(seed)
    status, lists, bi, threads = [], [], [], []
    while run.poll() is None:
        _timed(code, ("status", "--warehouse", str(warehouse)), status).join()
        if rng.random() < 0.4:
            target = work / f"list_{seed}_{len(threads)}.csv"
            threads.append(_timed(code, ("audit-list", "--warehouse", str(warehouse),
                                         "--program", "inexacto", "--out", str(target)),
                                  lists))  # fmt: skip
        path = _bi_target(warehouse, code)
        if path.is_file():
            seconds, outcome = _bi_read(path)
            bi.append({"seconds": seconds, "outcome": outcome})
        time.sleep(rng.uniform(0, 0.5))
    run_out = run.communicate()[0]
    for thread in threads:
        thread.join()
    return {"run_code": run.returncode, "run_tail": run_out[-500:], "status": status,
            "audit_list": lists, "bi": bi}  # fmt: skip


def idle(code: Path, warehouse: Path, work: Path, repeats: int = 5) -> dict:
    times: dict[str, list[float]] = {"status": [], "audit_list": [], "bi": []}
    for k in range(repeats):
        for name, args in (("status", ("status",)),
                           ("audit_list", ("audit-list", "--program", "inexacto", "--out",
                                           str(work / f"idle_{k}.csv")))):  # fmt: skip
            started = time.perf_counter()
            proc = _cli(code, *args, "--warehouse", str(warehouse))
            proc.communicate()
            times[name].append(time.perf_counter() - started)
        times["bi"].append(_bi_read(_bi_target(warehouse, code))[0])
    return {k: statistics.median(v) for k, v in times.items()}


def publish_cost(warehouse: Path, repeats: int = 3) -> dict:
    from fiscal_intel.published import publish

    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        size = publish(warehouse)
        seconds.append(time.perf_counter() - started)
    median = statistics.median(seconds)
    return {"bytes": size, "seconds": seconds, "median_seconds": median,
            "mb_per_second": size / 1e6 / median}  # fmt: skip


def summarise(phase: dict, base: dict) -> dict:
    status = [s["seconds"] for s in phase["status"]]
    bi = [b["seconds"] for b in phase["bi"] if b["outcome"] == "ok"]
    return {
        "run_code": phase["run_code"],
        "status_calls": len(status),
        "status_raw_errors": sum(s["raw_error"] for s in phase["status"]),
        "status_max_wait_s": max(status, default=0) - base["status"],
        "audit_list_calls": len(phase["audit_list"]),
        "audit_list_max_wait_s": max((a["seconds"] for a in phase["audit_list"]), default=0)
        - base["audit_list"],
        "audit_list_failed": sum(a["code"] != 0 for a in phase["audit_list"]),
        "audit_list_raw_errors": sum(a["raw_error"] for a in phase["audit_list"]),
        "audit_list_waited_for_the_run": sum(a["waited_line"] for a in phase["audit_list"]),
        "bi_reads": len(phase["bi"]),
        "bi_failed": sum(b["outcome"] != "ok" for b in phase["bi"]),
        "bi_max_seconds": max(bi, default=None),
        "bi_max_wait_s": (max(bi) - base["bi"]) if bi else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taxpayers", type=int, default=1_500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--code", default=str(ROOT), help="checkout whose commands to run")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "readers_results.json"))
    args = parser.parse_args()
    code = Path(args.code).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        from fiscal_intel.demo import generate

        generate(work / "landing", work / "truth", taxpayers=args.taxpayers, seed=args.seed)
        warehouse = work / "warehouse.duckdb"
        run_args = ("run", "--landing", str(work / "landing"), "--warehouse", str(warehouse))
        phases = {}
        for k, name in enumerate(("first_run", "second_run")):
            started = time.perf_counter()
            run = _cli(code, *run_args)
            time.sleep(1.0)
            phases[name] = readers_during(run, warehouse, code, work, seed=k)
            phases[name]["run_seconds"] = time.perf_counter() - started
        base = idle(code, warehouse, work)
        result = {
            "taxpayers": args.taxpayers, "seed": args.seed, "code": str(code),
            "idle_median_seconds": base,
            "phases": {n: {**summarise(p, base), "run_seconds": p["run_seconds"]}
                       for n, p in phases.items()},
            "publish": publish_cost(warehouse) if code == ROOT else None,
            "detail": phases,
        }  # fmt: skip
    if result["publish"]:
        result["publish"]["estimate_1m_seconds"] = 3.0e9 / 1e6 / result["publish"]["mb_per_second"]
    Path(args.out).write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "detail"}, indent=2, default=str))


if __name__ == "__main__":
    main()
