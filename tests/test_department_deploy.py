"""Issue #19: the department's Dagster instance file (Postgres storage, runs limited per
municipality) validates as an instance configuration; no database is contacted."""

from __future__ import annotations

from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def test_department_instance_config_validates(tmp_path: Path, monkeypatch) -> None:
    from dagster._core.instance.config import dagster_instance_config

    for name in ("DAGSTER_PG_HOST", "DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_DB"):
        monkeypatch.setenv(name, "x")
    (tmp_path / "dagster.yaml").write_text((DEPLOY / "dagster-department.yaml").read_text())
    config, _ = dagster_instance_config(str(tmp_path))
    assert "postgres_db" in config["storage"]["postgres"]
    limits = config["run_coordinator"]["config"]["tag_concurrency_limits"]
    assert limits[0]["key"] == "fiscal_intel/municipality" and limits[0]["limit"] == 1


def test_helm_values_name_the_department_code_location() -> None:
    values = yaml.safe_load((DEPLOY / "helm" / "values-department.yaml").read_text())
    args = values["dagster-user-deployments"]["deployments"][0]["dagsterApiGrpcArgs"]
    assert args[1] == "fiscal_intel.department.distributed"
    import importlib

    module = importlib.import_module(args[1])
    assert {f"stage_{s}" for s in ("ref", "raw", "marts")} <= {
        j.name for j in module.defs.resolve_all_job_defs()
    }
