"""The Dagster floor of a municipality's run (issue #19): an in-process run of trivial assets and
asset checks shaped like ours (the same number per asset group, each check its own step), on
this machine, warm (the definitions built and one run done first).

What it measures is Dagster's own cost per run and per step (plan, events, event log), with no
DuckDB, GX or model work: the lower bound of a municipality's marginal time on Dagster, whatever
the assets do. Three ways: six runs (one per stage, as ``fiscal-intel run``) and one run, on the
ephemeral (in-memory) instance and on the persistent SQLite instance the CLI records runs in.

Usage: .venv/bin/python benchmarks/dagster_floor.py [--repeats 3]
Writes benchmarks/dagster_floor_results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

import dagster as dg

ROOT = Path(__file__).resolve().parents[1]


def shape() -> tuple[dict[str, int], dict[str, int]]:
    """Assets and asset checks per group, read from our definitions."""
    from fiscal_intel.definitions import defs

    graph = defs.resolve_asset_graph()
    assets: dict[str, int] = {}
    checks: dict[str, int] = {}
    for key in graph.materializable_asset_keys:
        group = graph.get(key).group_name
        assets[group] = assets.get(group, 0) + 1
    for check in graph.asset_check_keys:
        group = graph.get(check.asset_key).group_name
        checks[group] = checks.get(group, 0) + 1
    return assets, checks


def trivial_definitions(assets: dict[str, int], checks: dict[str, int]) -> list:
    """Assets that return metadata and checks that pass, chained within each group and each
    group depending on the last asset of the one before (as our stages do)."""
    out: list = []
    previous: dg.AssetKey | None = None
    for group, count in assets.items():
        keys = []
        for i in range(count):
            key = dg.AssetKey([group, f"a{i}"])
            deps = [previous] if previous is not None else []

            @dg.asset(key=key, group_name=group, deps=deps)
            def _asset() -> dg.MaterializeResult:
                return dg.MaterializeResult(metadata={"rows": 1})

            out.append(_asset)
            keys.append(key)
            previous = key
        for j in range(checks.get(group, 0)):

            @dg.asset_check(asset=keys[j % len(keys)], name=f"c{j}", blocking=True)
            def _check() -> dg.AssetCheckResult:
                return dg.AssetCheckResult(passed=True)

            out.append(_check)
    return out


def timed(fn) -> tuple[float, float]:  # noqa: ANN001
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "dagster_floor_results.json"))
    args = parser.parse_args(argv)
    assets, checks = shape()
    definitions = trivial_definitions(assets, checks)
    groups = list(assets)
    logger = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}

    def six_runs(instance: dg.DagsterInstance) -> None:
        for group in groups:
            result = dg.materialize(
                definitions, selection=dg.AssetSelection.groups(group), instance=instance,
                run_config=logger,
            )  # fmt: skip
            assert result.success

    def one_run(instance: dg.DagsterInstance) -> None:
        assert dg.materialize(definitions, instance=instance, run_config=logger).success

    from fiscal_intel.instance import persistent_instance

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as home:
        os.environ["DAGSTER_HOME"] = home
        with persistent_instance(Path(home) / "w.duckdb") as persistent:
            ephemeral = dg.DagsterInstance.ephemeral()
            for name, fn, instance in (
                ("six_runs_ephemeral", six_runs, ephemeral),
                ("six_runs_persistent", six_runs, persistent),
                ("one_run_ephemeral", one_run, ephemeral),
                ("one_run_persistent", one_run, persistent),
            ):
                run = partial(fn, instance)
                timed(run)  # warm-up: first-run caches
                samples = [timed(run) for _ in range(args.repeats)]
                results[name] = {
                    "wall_seconds": [round(w, 3) for w, _ in samples],
                    "cpu_seconds": [round(c, 3) for _, c in samples],
                    "median_wall_seconds": round(statistics.median(w for w, _ in samples), 3),
                    "median_cpu_seconds": round(statistics.median(c for _, c in samples), 3),
                }
                print(name, results[name]["median_wall_seconds"], "s wall,",
                      results[name]["median_cpu_seconds"], "s cpu", flush=True)  # fmt: skip
    steps = sum(assets.values()) + sum(checks.values())
    out = {
        "assets": assets,
        "checks": checks,
        "steps": steps,
        "repeats": args.repeats,
        "dagster": dg.__version__,
        "runs": results,
        "load_average_1min_at_end": round(os.getloadavg()[0], 1),
    }
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
