"""What real registries and tax systems write (issue 15): compact dates, CIIU with section letter
and description, municipalities by name, DVs glued on, money in thousands, mapping precedence,
the quarantine-share gate, the 2012 CIIU edition, the longer CPI, and one-line CLI errors.

The fixtures in ``tests/fixtures/real_exports`` are built by its ``make_fixture.py`` in the RUES
open-data and Supersociedades 1,000-largest layouts; nothing in them is copied from those files.
"""

from __future__ import annotations

import csv
import re
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fiscal_intel.assets.reference import REFERENCE_DIR
from fiscal_intel.cli import main
from fiscal_intel.ingest import loader
from fiscal_intel.ingest.mappings import MappingError, load_mapping
from fiscal_intel.ingest.nit import check_digit
from fiscal_intel.ingest.places import resolve_municipality
from fiscal_intel.ingest.readers import csv_plan
from fiscal_intel.ingest.sources import SOURCES
from fiscal_intel.ingest.values import parse_ciiu, parse_date, parse_nit
from fiscal_intel.settings import SettingsError, load_settings
from fiscal_intel.sqlfiles import install_macros, run_sql

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures" / "real_exports"
SMALL = HERE / "fixtures" / "landing_small"
REGISTRY = SOURCES["commerce_registry"]


@pytest.fixture()
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    install_macros(c)
    yield c
    c.close()


@pytest.fixture(scope="module")
def macros() -> duckdb.DuckDBPyConnection:
    """One connection for the property tests (read-only use: only the macros)."""
    c = duckdb.connect()
    install_macros(c)
    yield c
    c.close()


# ----------------------------------------------------------------------------------------------
# Values: Python parsers, and the SQL macros giving the same answers
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("19820531", date(1982, 5, 31)),
        (" 20230430 ", date(2023, 4, 30)),
        ("20230430 10:15", date(2023, 4, 30)),
        ("20230230", None),  # 30 February
        ("30042023", None),  # day first without separators is not read
        ("2023043", None),
    ],
)
def test_compact_dates(con, text: str, expected: date | None) -> None:
    assert parse_date(text) == expected
    assert con.execute("select fi_date(?)", [text]).fetchone()[0] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("G4711 - Comercio al por menor en establecimientos no especializados ...", "4711"),
        ("G4711", "4711"),
        ("g 4711", "4711"),
        ("4711 - Comercio", "4711"),
        ("4711 Comercio al por menor", "4711"),
        ("4711: Comercio", "4711"),
        ("H4921 Transporte de pasajeros", "4921"),
        ("A0111 - Cultivo de cereales", "0111"),
        ("111", "0111"),
        ("4711.0", "4711"),
        ("C1030 - Elaboración de aceites y grasas de origen vegetal y animal", "1030"),
        ("4711-5", None),  # a digit after the dash is not a description
        ("47111", None),
        ("G", None),
        ("Comercio 4711", None),
        ("", None),
    ],
)
def test_ciiu_with_section_letter_and_description(con, text: str, expected: str | None) -> None:
    assert parse_ciiu(text) == expected
    assert con.execute("select fi_ciiu(?)", [text]).fetchone()[0] == expected


_ciiu_texts = st.one_of(
    st.builds(
        lambda letter, code, sep, desc: f"{letter}{code}{sep}{desc}",
        st.sampled_from(["", "G", "a", "Q ", "Z"]),
        st.integers(0, 99999).map(str),
        st.sampled_from(["", " ", " - ", "-", ": ", ".", ", ", "  "]),
        st.text(alphabet="abcñé 0123-.:", max_size=8),
    ),
    st.text(alphabet="GA0123456789 -.:aé\u00a0", max_size=12),
)


@settings(max_examples=50, deadline=None)
@given(st.lists(_ciiu_texts, min_size=1, max_size=20))
def test_sql_ciiu_matches_python(macros, texts: list[str]) -> None:
    rows = macros.execute(
        "select fi_ciiu(t) from unnest($texts) with ordinality as u(t, i) order by i",
        {"texts": texts},
    ).fetchall()
    assert [r[0] for r in rows] == [parse_ciiu(t) for t in texts]


_compact = st.builds(
    lambda d, t: d.strftime("%Y%m%d") + t,
    st.dates(min_value=date(1000, 1, 1), max_value=date(9999, 12, 31)),
    st.sampled_from(["", " 10:15", "T23:59:59"]),
) | st.text(alphabet="0123456789 :T", min_size=6, max_size=12)


@settings(max_examples=60, deadline=None)
@given(st.lists(_compact, min_size=1, max_size=20))
def test_sql_compact_dates_match_python(macros, texts: list[str]) -> None:
    rows = macros.execute(
        "select fi_date(t) from unnest($texts) with ordinality as u(t, i) order by i",
        {"texts": texts},
    ).fetchall()
    assert [r[0] for r in rows] == [parse_date(t) for t in texts]


_glued = st.one_of(
    st.integers(10, 10**15 - 1).map(lambda n: f"{n}{check_digit(str(n))}"),
    st.integers(10, 10**9).map(lambda n: f"{n:,}".replace(",", ".") + f"-{check_digit(str(n))}"),
    st.text(alphabet="0123456789.- ", max_size=14),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_glued, min_size=1, max_size=20))
def test_sql_glued_dv_matches_python(macros, texts: list[str]) -> None:
    rows = macros.execute(
        "select fi_nit_suffix_body(t), fi_nit_suffix_dv(t) "
        "from unnest($texts) with ordinality as u(t, i) order by i",
        {"texts": texts},
    ).fetchall()
    expected = [parse_nit(t, dv_suffix=True) or (None, None) for t in texts]
    assert rows == [tuple(e) for e in expected]


def test_glued_dv() -> None:
    assert parse_nit("8090031820", dv_suffix=True) == ("809003182", 0)
    assert parse_nit("809003182-0", dv_suffix=True) == ("809003182", 0)
    assert parse_nit("8090031820") == ("8090031820", None)


# ----------------------------------------------------------------------------------------------
# Municipalities
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "department", "code"),
    [
        ("05615", None, "05615"),
        ("5615", None, "05615"),
        ("5615.0", None, "05615"),
        ("MEDELLIN", None, "05001"),
        ("Medellín", None, "05001"),
        ("BOGOTA-D.C.-BOGOTA D.C.", None, "11001"),
        ("Bogotá, D.C.", None, "11001"),
        ("Rionegro - Antioquia", None, "05615"),
        ("RIONEGRO (ANT)", None, "05615"),
        ("rionegro, santander", None, "68615"),
        ("ANTIOQUIA RIONEGRO", None, "05615"),
        ("RIONEGRO", "Santander", "68615"),
        ("RIONEGRO", "05", "05615"),
        ("Cúcuta - N. de Santander", None, "54001"),
        ("Cartagena", None, "13001"),
        ("MEDELLIN", "SANTANDER", "05001"),  # a unique name needs no department
    ],
)
def test_municipalities_resolve(text: str, department: str | None, code: str) -> None:
    assert resolve_municipality(text, department) == (code, None)


def test_ambiguous_and_unknown_municipalities_say_why() -> None:
    code, why = resolve_municipality("RIONEGRO")
    assert code is None
    assert "05615 ANTIOQUIA" in why and "68615 SANTANDER" in why and "department" in why
    assert resolve_municipality("615") == (None, "'615' is not a DIVIPOLA municipality code")
    assert resolve_municipality("99999")[0] is None
    assert resolve_municipality("RIONEGRO - CALDAS")[0] is None
    assert resolve_municipality("") == (None, None)


def test_divipola_is_shipped_with_its_source() -> None:
    with (REFERENCE_DIR / "divipola_municipalities.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1121 and len({r["dane_code"] for r in rows}) == 1121
    assert "divipola_municipalities.csv" in (REFERENCE_DIR / "SOURCES.md").read_text("utf-8")


# ----------------------------------------------------------------------------------------------
# The two fixtures, through both readers
# ----------------------------------------------------------------------------------------------
def _load(
    folder: Path, mappings: Path | None, fast: bool, monkeypatch
) -> duckdb.DuckDBPyConnection:
    monkeypatch.setattr(loader, "FAST_CSV", fast)
    c = duckdb.connect()
    result = loader.load_source(c, REGISTRY, folder, mapping=load_mapping(REGISTRY, mappings))
    assert [f.status for f in result.files] == ["loaded"]
    return c


def _rows(c: duckdb.DuckDBPyConnection) -> list[tuple]:
    return c.execute(
        "select * exclude (_batch_id) from raw.commerce_registry order by _row_number"
    ).fetchall()


def test_rues_open_data_layout_both_readers(monkeypatch) -> None:
    folder = FIXTURES / "rues" / "commerce_registry"
    mappings = FIXTURES / "rues" / "mappings"
    path = folder / "rues_rionegro.csv"
    assert csv_plan(path, path.read_bytes(), load_mapping(REGISTRY, mappings)) is not None
    fast, careful = (_load(folder, mappings, f, monkeypatch) for f in (True, False))
    assert _rows(fast) == _rows(careful)
    for c in (fast, careful):
        read, loaded, quarantined = c.execute(
            "select rows_read, rows_loaded, rows_quarantined from ops.load_log"
        ).fetchone()
        assert (read, loaded, quarantined) == (36, 33, 3)
        reasons = c.execute("select distinct reason from ops.quarantine").fetchall()
        assert reasons == [
            (
                "municipality_code 'RIONEGRO' names 2 municipalities (05615 ANTIOQUIA, 68615 "
                "SANTANDER): give the department in the value, in a department column or as "
                "[municipality] department in the source's mapping",
            )
        ]
    row = fast.execute(
        "select nit, dv, ciiu, ciiu_secondary, municipality_code, registered_on, cancelled_on "
        "from raw.commerce_registry where matricula = '60037'"
    ).fetchone()
    assert row == ("900107919", 9, "5611", "1032", "05615", date(1983, 2, 2), None)
    codes = dict(
        fast.execute(
            "select municipality_code, count(*) from raw.commerce_registry group by all"
        ).fetchall()
    )
    assert set(codes) == {"05615", "05001", "11001", "05148", "05440", "05318", "05376"}
    ciiu = {r[0] for r in fast.execute("select ciiu from raw.commerce_registry").fetchall()}
    assert {"4711", "7110", "1030", "1032", "3211", "6514", "4719", "4921"} <= ciiu


def test_supersociedades_layout_units_department_and_precedence(monkeypatch) -> None:
    folder = FIXTURES / "supersociedades" / "commerce_registry"
    after = FIXTURES / "supersociedades" / "mappings"
    fast, careful = (_load(folder, after, f, monkeypatch) for f in (True, False))
    assert _rows(fast) == _rows(careful)
    read, loaded, quarantined, message = fast.execute(
        "select rows_read, rows_loaded, rows_quarantined, message from ops.load_log"
    ).fetchone()
    assert (read, loaded, quarantined) == (24, 24, 0)
    # The override's CIIU4 wins over the CIIU header it shadows, and the log says so.
    assert "ciiu from 'CIIU4' (mapped in commerce_registry.toml), not 'CIIU'" in message
    assert "total_assets x 1000 ([units] in the mapping)" in message
    first = fast.execute(
        "select nit, ciiu, municipality_code, total_assets from raw.commerce_registry "
        "order by _row_number limit 2"
    ).fetchall()
    # COP 475 bn of assets, written 475.312.880 in thousands.
    assert first == [
        ("800200000", "4711", "05001", Decimal("475312880000.00")),
        ("800304729", "4511", "05615", Decimal("465436337000.00")),  # RIONEGRO, ANTIOQUIA
    ]
    santander = fast.execute(
        "select count(*) from raw.commerce_registry where municipality_code = '68615'"
    ).fetchone()[0]
    assert santander == 3
    # Without the department column the same RIONEGRO rows are quarantined, naming candidates.
    before = _load(folder, FIXTURES / "supersociedades" / "mappings_before", True, monkeypatch)
    assert before.execute(
        "select count(*) from ops.quarantine where reason like '%05615 ANTIOQUIA, 68615%'"
    ).fetchone()[0] == 6


def test_mapping_department_setting_and_glued_dv(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "commerce_registry"
    folder.mkdir()
    (folder / "rues.csv").write_text(
        "MATRICULA,NIT,RAZON_SOCIAL,CIIU,MUNICIPIO,FECHA_MATRICULA,ULTIMO_ANO_RENOVADO,ESTADO,"
        "ACTIVO_TOTAL\n"
        "1,8090031820,A SAS,G4711 - Comercio,RIONEGRO,19820531,2024,ACTIVA,\"1.234,5\"\n"
        "2,8090031821,B SAS,4711,RIONEGRO,19820531,2024,ACTIVA,10\n",
        encoding="utf-8",
    )
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "commerce_registry.toml").write_text(
        '[nit]\ndv_suffix = true\n\n[municipality]\ndepartment = "Antioquia"\n\n'
        "[units]\ntotal_assets = 1000\n",
        encoding="utf-8",
    )
    path = folder / "rues.csv"
    assert csv_plan(path, path.read_bytes(), load_mapping(REGISTRY, mappings)) is not None
    for fast in (True, False):
        c = _load(folder, mappings, fast, monkeypatch)
        assert c.execute(
            "select nit, municipality_code, total_assets from raw.commerce_registry"
        ).fetchall() == [("809003182", "05615", Decimal("1234500.00"))]
        assert c.execute("select reason from ops.quarantine").fetchall() == [
            ("nit '8090031821': check digit should be 0",)
        ]
        message = c.execute("select message from ops.load_log").fetchone()[0]
        assert "NIT read with its DV glued on" in message


@pytest.mark.parametrize(
    ("toml", "error"),
    [
        ("[units]\nlegal_name = 1000\n", "units.legal_name: only money columns take a unit"),
        ("[units]\ntotal_assets = -1\n", "units.total_assets must be a positive number"),
        ("[units]\ntotal_assets = 'mil'\n", "units.total_assets must be a positive number"),
        ("[nit]\ndv_suffix = 'yes'\n", "nit.dv_suffix must be true or false"),
        ("[nit]\nsuffix = true\n", "[nit] takes only dv_suffix"),
        ("[municipality]\ndepartment = 5\n", "municipality.department must be a name"),
        ("[unidades]\n", "unknown table(s) unidades"),
    ],
)
def test_mapping_errors_name_the_problem(tmp_path: Path, toml: str, error: str) -> None:
    (tmp_path / "commerce_registry.toml").write_text(toml, encoding="utf-8")
    with pytest.raises(MappingError, match=re.escape(error)):
        load_mapping(REGISTRY, tmp_path)


def test_mapping_precedence_in_the_python_reader() -> None:
    mapping = load_mapping("taxpayers")
    res = mapping.resolve(["NIT", "razon social", "nombre", "ciiu", "fecha inscripcion", "estado",
                           "tipo persona"])
    assert res.names[1:3] == ["legal_name", "_x_nombre"]
    assert res.notes == (
        "legal_name from 'razon social' (mapped in taxpayers.toml), not 'nombre' "
        "(mapped in taxpayers.toml)",
    )


# ----------------------------------------------------------------------------------------------
# Activity codes: the complete list, the 2012 crosswalk, rates
# ----------------------------------------------------------------------------------------------
def _ref(c: duckdb.DuckDBPyConnection) -> None:
    c.execute("create schema if not exists ref")
    files = {
        "added": str(REFERENCE_DIR / "ciiu_rev4ac_classes_added.csv"),
        "crosswalk": str(REFERENCE_DIR / "ciiu_2012_crosswalk.csv"),
    }
    run_sql(c, "ref/ciiu_classes", path=str(REFERENCE_DIR / "ciiu_rev4ac_classes.csv"), **files)
    run_sql(
        c, "ref/ciiu_rates_default", path=str(REFERENCE_DIR / "ciiu_rates_default.csv"), **files
    )


def test_class_list_is_complete_and_rates_follow_the_division(con) -> None:
    _ref(con)
    current = {
        r[0]
        for r in con.execute(
            "select ciiu from ref.ciiu_classes where edition = 'current'"
        ).fetchall()
    }
    assert len(current) == 502
    rues = REFERENCE_DIR.parents[1].parent / "shared" / "reference" / "ciiu_rev4ac_classes_rues.csv"
    if not rues.is_file():
        rues = Path("/work/shared/reference/ciiu_rev4ac_classes_rues.csv")
    if rues.is_file():
        with rues.open(encoding="utf-8") as fh:
            assert {r["class"] for r in csv.DictReader(fh)} <= current
    assert {"1031", "1032", "1033", "3211", "3212"} <= current
    # Every class has a default rate, and a new class has its division's.
    rates = dict(con.execute("select ciiu, rate_per_mil from ref.ciiu_rates_default").fetchall())
    assert current <= set(rates)
    peers = dict(
        con.execute(
            "select c.division, mode(r.rate_per_mil) from ref.ciiu_classes as c "
            "join ref.ciiu_rates_default as r on c.ciiu = r.ciiu "
            "where c.ciiu not in ('1031', '1032', '1033', '3211', '3212') group by all"
        ).fetchall()
    )
    assert rates["1032"] == peers["10"] and rates["3212"] == peers["32"]
    # 2012 codes: under their successor, with its rate; 6514 stays unknown.
    assert con.execute(
        "select ciiu, current_ciiu, ciiu_section from ref.ciiu_classes where edition = '2012' "
        "order by ciiu"
    ).fetchall() == [
        ("1030", "1031", "C"), ("3210", "3211", "C"), ("7110", "7112", "M"), ("8890", "8899", "Q"),
    ]
    assert rates["7110"] == rates["7112"] and "6514" not in rates


def test_unknown_ciiu_says_translated_or_unknown(con) -> None:
    _ref(con)
    con.execute("create schema staging")
    con.execute(
        "create table staging.stg_taxpayers as select * from (values ('1', '7110'), "
        "('2', '6514'), ('3', '1032'), ('4', '4711'), ('5', '9999')) as t(nit, ciiu)"
    )
    for table in ("stg_declarations", "stg_commerce_registry"):
        con.execute(f"create table staging.{table} as select * from staging.stg_taxpayers limit 0")
    con.execute("alter table staging.stg_commerce_registry add column ciiu_secondary varchar")
    con.execute(
        "create table staging.stg_ciiu_rates as select * from (values ('4711', 'municipal'), "
        "('7110', 'default')) as t(ciiu, rate_source)"
    )
    run_sql(con, "staging/unknown_ciiu")
    assert con.execute(
        "select ciiu, status, translated_to from staging.unknown_ciiu order by ciiu"
    ).fetchall() == [("6514", "unknown", None), ("7110", "translated", "7112"),
                     ("9999", "unknown", None)]


# ----------------------------------------------------------------------------------------------
# Checks: quarantine share, undeclared units, glued DVs
# ----------------------------------------------------------------------------------------------
def test_quarantine_share_check_names_file_share_and_reasons(monkeypatch) -> None:
    c = _load(
        FIXTURES / "supersociedades" / "commerce_registry",
        FIXTURES / "supersociedades" / "mappings_before",
        True,
        monkeypatch,
    )
    files = ["1000_empresas_2023.csv"]
    params = {"source": "commerce_registry", "files": files}
    passed, observed, detail = run_sql(
        c, "checks/quarantine_share", max_quarantine_share=0.3, **params
    ).fetchone()
    assert passed and observed == 0 and "more than 30.0 %" in detail
    passed, observed, detail = run_sql(
        c, "checks/quarantine_share", max_quarantine_share=0.2, **params
    ).fetchone()
    assert not passed and observed == pytest.approx(0.25)
    assert detail.startswith(
        "1000_empresas_2023.csv: 25.0 % of 24 rows quarantined (max_quarantine_share 20.0 %); "
        "most common: municipality_code '…' names 2 municipalities"
    )
    # A file no longer in landing does not count.
    assert run_sql(c, "checks/quarantine_share", max_quarantine_share=0.1,
                   source="commerce_registry",
                   files=["other.csv"]).fetchone()[0]


def test_unit_mismatch_check_names_source_and_factor(con) -> None:
    con.execute("create schema staging")
    nits = [str(900_000_000 + i) for i in range(12)]
    con.execute(
        "create table staging.stg_declarations as select unnest($n) as nit, 2023 as tax_year, "
        "1e9 as gross_income, 7e6 as total_tax",
        {"n": nits},
    )
    con.execute(
        "create table staging.stg_commerce_registry as select unnest($n) as nit, "
        "8e5 as total_assets",  # 800 million pesos written in thousands
        {"n": nits},
    )
    con.execute(
        "create table staging.stg_withholdings as select unnest($n) as nit, 2023 as tax_year, "
        "3e8 as base_amount",
        {"n": nits},
    )
    con.execute(
        "create table staging.stg_payments as select unnest($n) as nit, 2023 as tax_year, "
        "7e6 as amount",
        {"n": nits},
    )
    passed, _, detail = run_sql(con, "checks/unit_mismatch", min_nits=10).fetchone()
    assert not passed
    assert detail.startswith(
        "commerce_registry.total_assets is about 1,000 times smaller than "
        "declarations.gross_income for the same NITs (median ratio 0.0008 over 12 NITs): "
        "if commerce_registry is in thousands of pesos, declare [units] total_assets = 1000"
    )
    assert "withholdings" not in detail and "payments" not in detail
    con.execute("update staging.stg_commerce_registry set total_assets = 8e8")
    assert run_sql(con, "checks/unit_mismatch", min_nits=10).fetchone()[0]


def test_glued_dv_warning(con) -> None:
    con.execute("create schema raw")
    glued = [f"{n}{check_digit(str(n))}" for n in range(800_000_001, 800_000_041)]
    con.execute("create table raw.commerce_registry as select unnest($n) as nit", {"n": glued})
    passed, observed, detail = run_sql(
        con, "checks/nit_dv_suffix", source="commerce_registry",
        raw_table="raw.commerce_registry",
    ).fetchone()
    assert not passed and observed == 1.0
    assert "declare [nit] dv_suffix = true in the mapping of commerce_registry" in detail
    con.execute("create or replace table raw.commerce_registry as select "
                "(1000000000 + i * 7919)::varchar as nit from range(40) as t(i)")
    assert run_sql(
        con, "checks/nit_dv_suffix", source="commerce_registry",
        raw_table="raw.commerce_registry",
    ).fetchone()[0]


# ----------------------------------------------------------------------------------------------
# Longer CPI
# ----------------------------------------------------------------------------------------------
def test_cpi_reaches_back_to_1989_and_series_from_2001_get_intervals() -> None:
    from fiscal_intel.leadership.forecast import MonthlySeries, forecast_rows

    with (REFERENCE_DIR / "cpi_deflator.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    years = [int(r["year"]) for r in rows]
    assert years == list(range(1989, 2025))
    inflation = {int(r["year"]): float(r["inflation_dec_pct"]) for r in rows}
    assert inflation[1990] == 32.37 and inflation[2014] == 3.66
    rng = np.random.default_rng(3)
    shape = np.array([1, 1, 9, 47, 23, 5, 5, 3, 2, 2, 1, 1], float) / 100
    values = np.concatenate(
        [1e9 * 1.08 ** (y - 2001) * float(np.exp(rng.normal(0, 0.05))) * shape
         for y in range(2001, 2021)]
    )
    out = forecast_rows(MonthlySeries(date(2001, 1, 1), values), inflation)
    early = [r for r in out if r["kind"] == "backtest" and r["method"] == "model"
             and r["target_year"] < 2014]
    assert early and all(r["lower_95"] is not None for r in early if r["target_year"] >= 2004)
    assert any(r["kind"] == "forecast" and r["lower_95"] is not None for r in out)


def _shared(relative: str) -> Path | None:
    """A file of the project's shared folder: beside the clone in CI (``../shared``), or two
    levels up from a worktree."""
    root = HERE.parent
    for base in (root.parent / "shared", root.parent.parent / "shared"):
        if (base / relative).is_file():
            return base / relative
    return None


def test_rionegro_real_series_gets_intervals_before_2014() -> None:
    from fiscal_intel.leadership.forecast import MonthlySeries, forecast_rows

    path = _shared("real/rionegro_ica_payments_monthly_2001_2020.csv")
    if path is None:
        pytest.skip("shared/real is not beside the repository")
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    values = np.array([float(r["ica_collected_cop_millions"]) for r in rows])
    series = MonthlySeries(date.fromisoformat(rows[0]["month"]), values)
    with (REFERENCE_DIR / "cpi_deflator.csv").open(encoding="utf-8") as fh:
        inflation = {int(r["year"]): float(r["inflation_dec_pct"]) for r in csv.DictReader(fh)}
    backtests = [r for r in forecast_rows(series, inflation)
                 if r["kind"] == "backtest" and r["method"] == "model"]
    # With the CPI from 2014 only, 4 of these 18 had an interval and none before 2014.
    assert len(backtests) == 18
    assert sum(r["lower_95"] is not None for r in backtests) == 17
    assert sum(r["lower_95"] is not None for r in backtests if r["target_year"] < 2014) == 10


# ----------------------------------------------------------------------------------------------
# One-line errors, never a traceback
# ----------------------------------------------------------------------------------------------
def _err(capsys, argv: list[str]) -> tuple[int, str]:
    code = main(argv)
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    return code, err.strip()


def test_empty_landing_and_files_in_its_root(tmp_path: Path, capsys) -> None:
    landing = tmp_path / "landing"
    (landing / "payments").mkdir(parents=True)
    code, err = _err(capsys, ["run", "--landing", str(landing), "--warehouse",
                              str(tmp_path / "w.duckdb")])
    assert code == 1
    assert err == (f"fiscal-intel: landing folder {landing} holds no file in any source "
                   "subfolder (taxpayers/, declarations/, payments/, withholdings/, "
                   "commerce_registry/, audits/, actions/, ciiu_rates/)")
    (landing / "pagos.csv").write_text("payment_id\n")
    code, err = _err(capsys, ["run", "--landing", str(landing), "--warehouse",
                              str(tmp_path / "w.duckdb")])
    assert code == 1
    assert f"landing folder {landing} has 1 file(s) in its root (pagos.csv)" in err
    assert not (tmp_path / "w.duckdb").exists()


def test_unwritable_warehouse(tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    code, err = _err(capsys, ["run", "--landing", str(SMALL), "--warehouse",
                              str(blocker / "w.duckdb")])
    assert code == 1
    assert err.startswith(f"fiscal-intel: cannot write the warehouse {blocker / 'w.duckdb'}: ")


def test_bad_setting_values(tmp_path: Path, capsys, monkeypatch) -> None:
    base = ["run", "--landing", str(SMALL), "--warehouse", str(tmp_path / "w.duckdb")]
    code, err = _err(capsys, [*base, "--as-of", "31/02/2025"])
    assert code == 2
    assert err == ("fiscal-intel: setting as_of: '31/02/2025' is not a date (write it "
                   "YYYY-MM-DD, e.g. 2025-06-30)")
    monkeypatch.setenv("FISCAL_INTEL_NUM_THREADS", "two")
    code, err = _err(capsys, base)
    assert (code, err) == (2, "fiscal-intel: setting num_threads: 'two' is not a whole number")
    monkeypatch.delenv("FISCAL_INTEL_NUM_THREADS")
    monkeypatch.setenv("FISCAL_INTEL_MAX_QUARANTINE_SHARE", "20%")
    code, err = _err(capsys, base)
    assert err == "fiscal-intel: setting max_quarantine_share: '20%' is not a number"
    monkeypatch.delenv("FISCAL_INTEL_MAX_QUARANTINE_SHARE")
    # A day-first date is the date it says, never replaced by the data's.
    assert load_settings(as_of="30/06/2025").as_of == "2025-06-30"
    assert load_settings(as_of="20250630").as_of == "2025-06-30"
    with pytest.raises(SettingsError, match="setting continue_past_unreadable: 'maybe'"):
        load_settings(continue_past_unreadable="maybe")


def test_config_file_errors(tmp_path: Path, capsys) -> None:
    base = ["run", "--landing", str(SMALL), "--warehouse", str(tmp_path / "w.duckdb")]
    missing = tmp_path / "nope.toml"
    code, err = _err(capsys, ["--config", str(missing), *base])
    assert (code, err) == (2, f"fiscal-intel: config file {missing} does not exist")
    config = tmp_path / "fiscal_intel.toml"
    config.write_text('municipality = "05615"\nmax_quarantine_shar = 0.3\n', encoding="utf-8")
    code, err = _err(capsys, ["--config", str(config), *base])
    assert code == 2
    assert err.startswith(
        f"fiscal-intel: config file {config}: unknown setting(s) max_quarantine_shar (known: "
    )
    config.write_text("municipality = \n", encoding="utf-8")
    code, err = _err(capsys, ["--config", str(config), *base])
    assert code == 2 and err.startswith(f"fiscal-intel: config file {config}: ")


def test_multi_line_reason_is_kept_whole(tmp_path: Path, capsys) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(SMALL, landing)
    shutil.copy(
        FIXTURES / "supersociedades" / "commerce_registry" / "1000_empresas_2023.csv",
        landing / "commerce_registry",
    )
    code, err = _err(capsys, ["run", "--landing", str(landing), "--warehouse",
                              str(tmp_path / "w.duckdb")])
    assert code == 1
    # No mapping for the list: its headers are named, line breaks and all, on one line.
    assert "1000_empresas_2023.csv: missing required column(s)" in err
    assert "INGRESOS OPERACIONALES / 2023" in err and "TOTAL PATRIMONIO / 2023" in err


def test_mostly_quarantined_file_stops_the_run(tmp_path: Path, capsys) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(SMALL, landing)
    (landing / "payments" / "recaudo_malo.csv").write_text(
        "payment_id,nit,tax_year,paid_on,amount\n"
        "X1,900123456,2023,31/31/2023,1000\nX2,900123456,2023,2023-13-01,1000\n"
        "X3,900123456,2023,2023-05-01,1000\nX4,900123456,2023,ayer,1000\n",
        encoding="utf-8",
    )
    warehouse = tmp_path / "w.duckdb"
    code, err = _err(capsys, ["run", "--landing", str(landing), "--warehouse", str(warehouse)])
    assert code == 1
    assert "raw/payments:quarantine_share" in err
    assert ("payments/recaudo_malo.csv: 75.0 % of 4 rows quarantined (max_quarantine_share "
            "20.0 %); most common: paid_on '…' is not a date (3)") in err
    with duckdb.connect(str(warehouse), read_only=True) as c:
        assert c.execute("select count(*) from information_schema.tables "
                         "where table_schema = 'marts'").fetchone()[0] == 0
    # --continue-past-unreadable: the gate only warns, the run goes on (ingest is enough to
    # see it), and the command exits 1 at the end naming the file.
    from fiscal_intel.runner import run_pipeline

    settings = load_settings(landing=str(landing), warehouse=str(warehouse),
                             continue_past_unreadable=True)
    stages = run_pipeline(settings, stages=("ref", "raw"))
    (line,) = [f for s in stages for f in s.checks_failed if "quarantine_share" in f]
    assert "recaudo_malo.csv: 75.0 %" in line


def test_continue_past_the_gate_exits_1_naming_the_file(tmp_path: Path, capsys, monkeypatch):
    import fiscal_intel.run_summary
    import fiscal_intel.runner
    from fiscal_intel.run_events import StageResult

    line = ("check raw/payments:quarantine_share failed: payments/recaudo_malo.csv: 75.0 % of 4 "
            "rows quarantined (max_quarantine_share 20.0 %); most common: paid_on '…' is not a "
            "date (3)")
    monkeypatch.setattr(fiscal_intel.runner, "run_pipeline",
                        lambda *a, **k: [StageResult("raw", 1.0, 7, checks_failed=[line])])
    monkeypatch.setattr(fiscal_intel.run_summary, "print_summary", lambda *a, **k: None)
    code, err = _err(capsys, ["run", "--landing", str(SMALL), "--warehouse",
                              str(tmp_path / "w.duckdb"), "--continue-past-unreadable"])
    assert code == 1
    assert err == f"fiscal-intel: stage raw: {line}"
