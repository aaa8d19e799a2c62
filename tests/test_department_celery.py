"""Issue #19: the same municipality runs on Dagster's Celery executor (Redis broker, two
workers) give warehouses equal, table for table, to the in-process runs."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest
from conftest import DEPARTMENT_GOOD

REDIS = shutil.which("redis-server")
ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    REDIS is None and not os.environ.get("CI"),
    reason="redis-server is not installed (make test installs it; under CI=true this test runs)",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def celery_workers(tmp_path_factory: pytest.TempPathFactory):
    """A local redis-server on a free loopback port and two solo-pool Celery workers."""
    assert REDIS is not None, "CI=true: redis-server must be installed (make test does it)"
    root = tmp_path_factory.mktemp("celery")
    port = _free_port()
    url = f"redis://127.0.0.1:{port}/0"
    redis = subprocess.Popen(
        [REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    (root / "dagster_celery_config.py").write_text(
        f"broker_url = {url!r}\nresult_backend = {url!r}\n", encoding="utf-8"
    )
    env = {**os.environ, "PYTHONPATH": str(root), "GX_ANALYTICS_ENABLED": "False"}
    celery = str(Path(sys.executable).with_name("celery"))
    workers = [
        subprocess.Popen(
            [celery, "-A", "dagster_celery.app", "worker", "-P", "solo", "-Q", "dagster",
             "-n", f"w{i}@%h", "-l", "WARNING"],
            env=env, cwd=root, stdout=(root / f"w{i}.log").open("w"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        for i in (1, 2)
    ]
    try:
        yield {"url": url, "root": root, "workers": workers}
    finally:
        for p in [*workers, redis]:
            p.terminate()
        for p in [*workers, redis]:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


# Two of the department's municipalities, more than one so that their steps interleave on the
# shared workers; every table of each is compared (the third would repeat the second's shape).
CELERY_MUNICIPALITIES = DEPARTMENT_GOOD[:2]


def test_celery_run_equals_in_process_run(department, celery_workers, monkeypatch) -> None:
    import dagster as dg
    from dagster_celery import core_execution_loop

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from compare_warehouses import compare

    from fiscal_intel.department.distributed import run_pipeline_celery
    from fiscal_intel.department.runner import municipality_settings
    from fiscal_intel.settings import load_settings

    url, root = celery_workers["url"], celery_workers["root"]
    # The driver's poll of the workers (dagster_celery ticks once a second) sets how soon a
    # finished step's successors are sent; a finer tick changes nothing in what is computed.
    monkeypatch.setattr(core_execution_loop, "TICK_SECONDS", 0.2)
    start = time.perf_counter()
    (root / "dagster_home").mkdir()
    import shutil

    from fiscal_intel.department.runner import pooled_step

    def settings_of(code: str):
        return municipality_settings(load_settings(), code, department["landing"] / code,
                                     root / "wh")  # fmt: skip

    with dg.DagsterInstance.local_temp(str(root / "dagster_home")) as instance:
        records = {}

        def first(code: str) -> None:
            from fiscal_intel.run_log import RunRecord

            records[code] = RunRecord(str(uuid.uuid4()), datetime.now())
            run_pipeline_celery(settings_of(code), instance, broker=url, backend=url,
                                phase="before_choice", record=records[code])  # fmt: skip

        def second(code: str) -> None:
            run_pipeline_celery(settings_of(code), instance, broker=url, backend=url,
                                phase="after_choice", record=records[code],
                                chosen=True)  # fmt: skip

        # As run_department does in process: every municipality's first run (the
        # municipalities at once: their steps share the two workers), the pooled step over the
        # three (the one not run on Celery joins with its in-process warehouse: the step reads
        # its features, audits and backtest, which its second run does not change, so both
        # pooled models see the same rows), then each one's second run, its lists built once.
        with ThreadPoolExecutor(max_workers=len(CELERY_MUNICIPALITIES)) as pool:
            list(pool.map(first, CELERY_MUNICIPALITIES))
        for code in set(DEPARTMENT_GOOD) - set(CELERY_MUNICIPALITIES):
            shutil.copy(department["wh"] / f"{code}.duckdb", root / "wh" / f"{code}.duckdb")
        chosen = pooled_step({code: settings_of(code) for code in DEPARTMENT_GOOD}).choices
        assert set(chosen) == set(DEPARTMENT_GOOD)
        with ThreadPoolExecutor(max_workers=len(CELERY_MUNICIPALITIES)) as pool:
            list(pool.map(second, CELERY_MUNICIPALITIES))
        # Every step ran on one of the two workers, none in this process.
        hosts = {
            entry.dagster_event.event_specific_data.metadata["Celery worker"].value
            for run_record in instance.get_runs()
            for entry in instance.all_logs(run_record.run_id)
            if entry.dagster_event is not None
            and entry.dagster_event.event_type_value == "ENGINE_EVENT"
            and "Celery worker" in (entry.dagster_event.event_specific_data.metadata or {})
        }
        assert hosts and {h.split("@")[0] for h in hosts} <= {"w1", "w2"}, hosts
    seconds = time.perf_counter() - start
    for code in CELERY_MUNICIPALITIES:
        diffs = [
            row for row in compare(str(department["wh"] / f"{code}.duckdb"),
                                   str(root / "wh" / f"{code}.duckdb"))
            if row[1] not in ("same", "order")
        ]  # fmt: skip
        assert not diffs, f"{code}: {diffs}"
    print(f"celery: {len(CELERY_MUNICIPALITIES)} municipalities in {seconds:.1f} s")
