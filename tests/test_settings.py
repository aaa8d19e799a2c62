"""One settings object: its sources in order, its refusals naming the setting, and everything
derived from it (the resource, the SQL parameters, the partitions, the schedules, the doc)."""

from __future__ import annotations

import re
import shutil
from datetime import datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from fiscal_intel.partitions import all_tax_years, tax_years, with_tax_years
from fiscal_intel.resources import FiscalSettings, build_resources
from fiscal_intel.settings import Settings, SettingsError, load_settings, settings_reference
from fiscal_intel.sqlfiles import sql_root

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).parent / "fixtures" / "landing_small"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No FISCAL_INTEL_* variable of the caller's, and no fiscal_intel.toml in the working
    directory, leaks into these tests."""
    import os

    for name in list(os.environ):
        if name.startswith("FISCAL_INTEL_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def _toml(tmp_path: Path, text: str, name: str = "x.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_sources_in_order_defaults_env_toml_cli(tmp_path: Path, monkeypatch) -> None:
    config = _toml(tmp_path, "num_threads = 3\nboosting_rounds = 30\n")
    monkeypatch.setenv("FISCAL_INTEL_NUM_THREADS", "7")
    monkeypatch.setenv("FISCAL_INTEL_BOOSTING_ROUNDS", "70")
    monkeypatch.setenv("FISCAL_INTEL_SEED", "77")
    s = load_settings(config, num_threads=4, explain_top=None)  # None: the flag was not given
    assert s.explain_top == Settings.model_fields["explain_top"].default  # default
    assert s.seed == 77  # environment over default
    assert s.boosting_rounds == 30  # TOML over environment
    assert s.num_threads == 4  # CLI flag over TOML


def test_the_toml_file_is_found_by_variable_or_in_the_working_directory(
    tmp_path: Path, monkeypatch
) -> None:
    assert load_settings().seed == Settings.model_fields["seed"].default
    _toml(tmp_path, "seed = 5\n", "fiscal_intel.toml")
    assert load_settings().seed == 5
    monkeypatch.setenv("FISCAL_INTEL_CONFIG", str(_toml(tmp_path, "seed = 6\n")))
    assert load_settings().seed == 6
    assert load_settings(_toml(tmp_path, "seed = 8\n", "y.toml")).seed == 8  # --config wins


def test_a_missing_config_file_is_named(tmp_path: Path, monkeypatch) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(SettingsError, match=f"^config file {re.escape(str(missing))} does not"):
        load_settings(missing)
    monkeypatch.setenv("FISCAL_INTEL_CONFIG", str(missing))
    with pytest.raises(SettingsError, match="nope.toml does not exist"):
        load_settings()


def test_unknown_keys_are_refused_naming_them(tmp_path: Path) -> None:
    config = _toml(tmp_path, 'municipality = "05615"\nfirst_tax_yaer = 2005\n')
    with pytest.raises(SettingsError, match=r"config file .*x\.toml: unknown setting\(s\) "
                                            r"first_tax_yaer \(known: "):
        load_settings(config)
    with pytest.raises(SettingsError, match="^unknown setting num_thread "):
        load_settings(num_thread=2)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("env", "setting num_threads: 'two' is not a whole number"),
        ("toml", "setting num_threads: 'two' is not a whole number"),
        ("cli", "setting num_threads: 'two' is not a whole number"),
    ],
)
def test_a_bad_type_is_refused_naming_the_setting(tmp_path, monkeypatch, source, message):
    if source == "env":
        monkeypatch.setenv("FISCAL_INTEL_NUM_THREADS", "two")
        call = lambda: load_settings()  # noqa: E731
    elif source == "toml":
        call = lambda: load_settings(_toml(tmp_path, 'num_threads = "two"\n'))  # noqa: E731
    else:
        call = lambda: load_settings(num_threads="two")  # noqa: E731
    with pytest.raises(SettingsError) as refused:
        call()
    assert str(refused.value) == message


def test_other_bad_values_name_the_setting(tmp_path: Path) -> None:
    cases = {
        "num_threads = 2.5": "setting num_threads: 2.5 is not a whole number",
        'max_quarantine_share = "20%"': "setting max_quarantine_share: '20%' is not a number",
        "max_quarantine_share = 1.5": "setting max_quarantine_share: 1.5 is not a share",
        'continue_past_unreadable = "maybe"': "setting continue_past_unreadable: 'maybe' is not",
        "filing_deadline_month = 13": "setting filing_deadline_month: 13 is not a month",
        "municipality = 5615": "setting municipality: '5615' is not a 5-digit DANE code",
        'report_language = "fr"': "setting report_language: 'fr' is not es or en",
        "min_cell_taxpayers = 2": "setting min_cell_taxpayers: 2 (FISCAL_INTEL_MIN_CELL_TAXPAYERS) "
        "is below its floor of 3",
        "first_tax_year = 2040": "setting last_tax_year: 2035 is before first_tax_year 2040",
    }
    for line, message in cases.items():
        with pytest.raises(SettingsError) as refused:
            load_settings(_toml(tmp_path, line + "\n"))
        assert str(refused.value).startswith(message), (line, str(refused.value))
    assert load_settings(continue_past_unreadable="sí").continue_past_unreadable is True


def test_bad_dates_are_refused_and_good_ones_normalised(tmp_path: Path, monkeypatch) -> None:
    for bad in ("31/02/2025", "2025-13-01", "ayer"):
        with pytest.raises(SettingsError) as refused:
            load_settings(as_of=bad)
        assert str(refused.value) == (
            f"setting as_of: {bad!r} is not a date (write it YYYY-MM-DD, e.g. 2025-06-30)"
        )
    monkeypatch.setenv("FISCAL_INTEL_AS_OF", "30/06/2025")
    assert load_settings().as_of == "2025-06-30"
    assert load_settings(_toml(tmp_path, 'as_of = "20250630"\n')).as_of == "2025-06-30"
    assert load_settings(as_of="").as_of == ""


def test_replace_validates_like_any_source() -> None:
    s = load_settings()
    assert s.replace(seed=3).seed == 3 and s.seed != 3
    with pytest.raises(SettingsError, match="setting as_of: 'x' is not a date"):
        s.replace(as_of="x")


def test_the_resource_is_the_settings_not_a_copy() -> None:
    """One fact in one place: the resource's fields, types and defaults are the model's."""
    fields, resource_fields = Settings.model_fields, FiscalSettings.model_fields
    assert list(resource_fields) == list(fields)
    for name, field in fields.items():
        assert resource_fields[name].annotation == field.annotation, name
        assert resource_fields[name].default == field.default, name
    settings = load_settings(first_tax_year=2005, seed=9)
    resource = build_resources(settings)["settings"]
    assert resource.settings == settings
    assert resource.sql_params() == settings.model_dump()


# Parameters a SQL file gets from its caller rather than from the settings.
NOT_SETTINGS = {
    "years", "path", "source", "raw_table", "files", "max_lag_days", "min_nits", "added",
    "crosswalk", "programs",
}  # fmt: skip


def test_sql_parameters_carry_the_settings_own_names() -> None:
    used = {
        name
        for path in sql_root().rglob("*.sql")
        for name in re.findall(r"\$([a-z_][a-z0-9_]*)", path.read_text(encoding="utf-8"))
    }
    assert used - NOT_SETTINGS <= set(Settings.model_fields), used - NOT_SETTINGS - set(
        Settings.model_fields
    )
    assert not NOT_SETTINGS & set(Settings.model_fields)


def test_partitions_schedules_and_sensors_follow_the_settings(tmp_path: Path) -> None:
    from fiscal_intel.definitions import build_definitions
    from fiscal_intel.schedules import nightly_schedule

    settings = load_settings(_toml(tmp_path, "first_tax_year = 2005\nlast_tax_year = 2024\n"))
    assert tax_years(settings).get_partition_keys()[0] == "2005"
    assert all_tax_years(settings) == {
        "dagster/asset_partition_range_start": "2005",
        "dagster/asset_partition_range_end": "2024",
    }
    defs = build_definitions(settings)
    graph = defs.resolve_asset_graph()
    keys = graph.get(dg.AssetKey(["staging", "stg_payments"])).partitions_def.get_partition_keys()
    assert (keys[0], keys[-1], len(keys)) == ("2005", "2024", 20)
    assert defs.resources["settings"].first_tax_year == 2005
    request = nightly_schedule(
        dg.build_schedule_context(
            scheduled_execution_time=datetime(2026, 1, 2, 2),
            resources={"settings": defs.resources["settings"]},
        )
    )
    assert request.tags["dagster/asset_partition_range_start"] == "2005"
    # Unpartitioned definitions pass through untouched.
    plain = dg.AssetSpec("plain")
    assert with_tax_years([plain], settings) == [plain]


def test_a_run_with_config_gets_its_tax_years(tmp_path: Path) -> None:
    """`--config` with first_tax_year = 2005: a 2005 payment is loaded and staged into the 2005
    partition (with the defaults it is quarantined, tests/test_ops.py)."""
    from fiscal_intel.runner import run_pipeline

    landing = tmp_path / "landing"
    shutil.copytree(FIXTURE, landing)
    (landing / "payments" / "old.csv").write_text(
        "payment_id,nit,tax_year,paid_on,amount\nP-OLD,900111222,2005,2006-03-01,1000\n"
    )
    config = _toml(tmp_path, "first_tax_year = 2005\n")
    settings = load_settings(config, landing=str(landing), warehouse=str(tmp_path / "w.duckdb"))
    run_pipeline(settings, stages=("ref", "raw", "staging"))
    with duckdb.connect(settings.warehouse, read_only=True) as con:
        assert con.execute("select count(*) from ops.quarantine where file = 'old.csv'") \
            .fetchone()[0] == 0
        assert con.execute(
            "select amount from staging.stg_payments where payment_id = 'P-OLD'"
        ).fetchall() == [(1000,)]


def test_the_settings_reference_lists_every_setting() -> None:
    doc = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert doc == settings_reference(), "run: python -m fiscal_intel.settings > docs/settings.md"
    for name in Settings.model_fields:
        assert f"| `{name}` | `FISCAL_INTEL_{name.upper()}` |" in doc
