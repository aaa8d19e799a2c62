"""The Dagster floor of a municipality's run (issue #19): an in-process run of trivial assets and
asset checks shaped like ours (the same number per asset group; the checks that read only their
asset in its step, the others in check steps of their own, as ``fiscal_intel.assets.checks``),
on this machine, warm (the definitions built and one run done first).

What it measures is Dagster's own cost per run and per step (plan, events, event log), with no
DuckDB, GX or model work: the lower bound of a municipality's marginal time on Dagster, whatever
the assets do. One run (as ``fiscal-intel run``) on the persistent SQLite instance the CLI
records runs in, the same with every check a step of its own (the shape before the checks moved
into their assets' steps), and on the ephemeral (in-memory) instance.

A department runs each municipality twice around the pooled step (``runner.phase_selection``):
its first and second runs are measured too, shaped the same way.

Usage: .venv/bin/python benchmarks/dagster_floor.py [--repeats 3]
Writes benchmarks/dagster_floor_results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import dagster as dg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def shape(phase: str = "whole") -> tuple[dict[str, int], dict[str, int], dict[str, list[int]]]:
    """Per asset group, read from our definitions: assets, checks evaluated in their asset's
    step (the asset's ``check_specs``) and the checks of each check step of its own; of the
    assets a run of ``phase`` materialises (``runner.phase_selection``: a department's first
    or second run of a municipality, or the whole)."""
    from fiscal_intel.definitions import all_assets, defs
    from fiscal_intel.runner import phase_selection

    graph = defs.resolve_asset_graph()
    selected = phase_selection(phase).resolve(graph)
    assets: dict[str, int] = {}
    in_step: dict[str, int] = {}
    check_steps: dict[str, list[int]] = {}
    for key in graph.materializable_asset_keys & selected:
        group = graph.get(key).group_name
        assets[group] = assets.get(group, 0) + 1
    for d in all_assets:
        if isinstance(d, dg.AssetsDefinition):
            for check in d.check_keys:
                if check.asset_key in selected:
                    group = graph.get(check.asset_key).group_name
                    in_step[group] = in_step.get(group, 0) + 1
    for d in defs.asset_checks or []:
        checked = {k.asset_key for k in d.check_keys}
        if checked <= selected:
            group = graph.get(next(iter(checked))).group_name
            check_steps.setdefault(group, []).append(len(d.check_keys))
    return assets, in_step, check_steps


def trivial_definitions(
    assets: dict[str, int],
    in_step: dict[str, int],
    check_steps: dict[str, list[int]],
    *,
    every_check_a_step: bool = False,
) -> list:
    """Assets that return metadata and checks that pass, chained within each group and each
    group depending on the last asset of the one before (as our stages do). The checks as ours:
    ``in_step`` checks in their asset's step, ``check_steps`` as steps of their own (one step
    of N checks each); ``every_check_a_step``: every check a step of its own (the old shape)."""
    out: list = []
    previous: dg.AssetKey | None = None
    for group, count in assets.items():
        keys = []
        own = 0 if every_check_a_step else in_step.get(group, 0)
        for i in range(count):
            key = dg.AssetKey([group, f"a{i}"])
            deps = [previous] if previous is not None else []
            names = [f"c{j}" for j in range(own) if j % count == i]

            out.append(_trivial_asset(key, group, deps, names))
            keys.append(key)
            previous = key
        sizes = check_steps.get(group, [])
        if every_check_a_step:
            sizes = [1] * (in_step.get(group, 0) + sum(sizes))
        j = own
        for n, size in enumerate(sizes):
            # A step of several checks: on one asset (the group's last; blocking checks on
            # chained assets in one step would make a cycle); a single check: spread out.
            specs = [
                dg.AssetCheckSpec(
                    f"c{j + k}",
                    asset=keys[(j + k) % len(keys)] if size == 1 else keys[-1],
                    blocking=True,
                )
                for k in range(size)
            ]
            j += size

            out.append(_trivial_checks(specs, f"{group}_checks_{n}"))
    return out


def _trivial_asset(
    key: dg.AssetKey, group: str, deps: list[dg.AssetKey], names: list[str]
) -> dg.AssetsDefinition:
    @dg.asset(
        key=key,
        group_name=group,
        deps=deps,
        check_specs=[dg.AssetCheckSpec(n, asset=key, blocking=True) for n in names],
    )
    def _asset() -> dg.MaterializeResult:
        return dg.MaterializeResult(
            metadata={"rows": 1},
            check_results=[dg.AssetCheckResult(check_name=n, passed=True) for n in names],
        )

    return _asset


def _trivial_checks(specs: list[dg.AssetCheckSpec], name: str) -> dg.AssetChecksDefinition:
    @dg.multi_asset_check(specs=specs, name=name)
    def _checks() -> Iterator[dg.AssetCheckResult]:
        for spec in specs:
            yield dg.AssetCheckResult(asset_key=spec.asset_key, check_name=spec.name, passed=True)

    return _checks


def timed(fn) -> tuple[float, float]:  # noqa: ANN001
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "dagster_floor_results.json"))
    args = parser.parse_args(argv)
    assets, in_step, check_steps = shape()
    ours = trivial_definitions(assets, in_step, check_steps)
    old = trivial_definitions(assets, in_step, check_steps, every_check_a_step=True)
    # a department's two runs of a municipality, around the pooled step
    first = trivial_definitions(*shape("before_choice"))
    second = trivial_definitions(*shape("after_choice"))
    logger = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}

    def one_run(definitions: list, instance: dg.DagsterInstance) -> None:
        assert dg.materialize(definitions, instance=instance, run_config=logger).success

    from fiscal_intel.instance import persistent_instance

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as home:
        os.environ["DAGSTER_HOME"] = home
        with persistent_instance(Path(home) / "w.duckdb") as persistent:
            ephemeral = dg.DagsterInstance.ephemeral()
            for name, definitions, instance in (
                ("one_run_persistent", ours, persistent),
                ("one_run_persistent_every_check_a_step", old, persistent),
                ("one_run_ephemeral", ours, ephemeral),
                ("department_first_run_persistent", first, persistent),
                ("department_second_run_persistent", second, persistent),
            ):
                run = partial(one_run, definitions, instance)
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
    out = {
        "assets": assets,
        "checks_in_asset_steps": in_step,
        "check_steps": check_steps,
        "steps": sum(assets.values()) + sum(len(v) for v in check_steps.values()),
        "steps_every_check_a_step": sum(assets.values())
        + sum(in_step.values())
        + sum(sum(v) for v in check_steps.values()),
        "repeats": args.repeats,
        "dagster": dg.__version__,
        "runs": results,
        "load_average_1min_at_end": round(os.getloadavg()[0], 1),
    }
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
