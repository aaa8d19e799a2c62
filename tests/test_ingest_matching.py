"""Entity matching (chamber registrations without NIT -> RIT by name) and unknown CIIU codes."""

from __future__ import annotations

import duckdb
import pytest

from fiscal_intel.sqlfiles import install_macros, run_sql

RIT = [
    ("43987654", "MARÍA PEÑA GÓMEZ"),
    ("900111222", "FERRETERÍA EL ROBLE S.A.S."),
    ("71234567", "JUAN PÉREZ GÓMEZ"),  # two people share this name: ambiguous
    ("1036123456", "Juan Pérez Gómez"),
    ("800555666", "CONSTRUCTORA SAN NICOLAS LIMITADA"),
]
REGISTRY = [
    # matricula, nit, legal_name, municipality
    ("R1", None, "Maria Peña Gomez", "05615"),  # case and accents differ: matched
    ("R2", None, "FERRETERIA EL ROBLE SAS", "05615"),  # punctuation differs: matched
    ("R3", None, "JUAN PEREZ GOMEZ", "05615"),  # two RIT NITs: ambiguous
    ("R4", None, "TIENDA LA ESQUINA", "05615"),  # nobody: unmatched
    ("R5", None, "Constructora San Nicolás Ltda.", "05001"),  # elsewhere, legal form spelt out
    ("R6", "900111222", "FERRETERIA EL ROBLE SAS", "05615"),  # has its NIT: not matched at all
]


@pytest.fixture()
def wh() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    install_macros(con)
    for schema in ("raw", "staging", "ref", "marts"):
        con.execute(f"create schema {schema}")
    con.execute("create table staging.stg_taxpayers (nit varchar, legal_name varchar)")
    con.executemany("insert into staging.stg_taxpayers values (?, ?)", RIT)
    con.execute(
        "create table raw.commerce_registry (matricula varchar, nit varchar, legal_name varchar, "
        "organization_type varchar, ciiu varchar, ciiu_secondary varchar, "
        "municipality_code varchar, registered_on date, last_renewal_year bigint, "
        "status varchar, cancelled_on date, total_assets decimal(18, 2), employees bigint, "
        "_file varchar, _row_number bigint, _batch_id bigint)"
    )
    con.executemany(
        "insert into raw.commerce_registry (matricula, nit, legal_name, municipality_code, ciiu, "
        "registered_on, status, _file, _row_number, _batch_id) "
        "values (?, ?, ?, ?, '4752', date '2015-01-01', 'ACTIVA', 'rues.csv', 1, 1)",
        REGISTRY,
    )
    yield con
    con.close()


def test_registrations_without_nit_match_the_rit_only_when_unambiguous(wh) -> None:
    run_sql(wh, "staging/stg_registry_matches", municipality="05615")
    rows = wh.execute(
        "select matricula, matched_nit, candidates, outcome, is_local "
        "from staging.stg_registry_matches order by matricula"
    ).fetchall()
    assert rows == [
        ("R1", "43987654", 1, "matched", True),
        ("R2", "900111222", 1, "matched", True),
        ("R3", None, 2, "ambiguous", True),
        ("R4", None, 0, "unmatched", True),
        ("R5", "800555666", 1, "matched", False),
    ]


def test_staged_registry_carries_the_matched_nit_and_says_where_it_came_from(wh) -> None:
    run_sql(wh, "staging/stg_registry_matches", municipality="05615")
    run_sql(wh, "staging/stg_commerce_registry", municipality="05615")
    rows = wh.execute(
        "select matricula, nit, nit_source from staging.stg_commerce_registry order by matricula"
    ).fetchall()
    assert rows == [
        ("R1", "43987654", "name_match"),
        ("R2", "900111222", "name_match"),
        ("R3", None, None),
        ("R4", None, None),
        ("R5", "800555666", "name_match"),
        ("R6", "900111222", "export"),
    ]
    run_sql(wh, "marts/registry_match_rates")
    rates = {
        r[0]: r[1:]
        for r in wh.execute(
            "select scope, registrations, with_nit, without_nit, matched, ambiguous, unmatched, "
            "round(match_rate, 4), round(nit_coverage, 4) from marts.registry_match_rates"
        ).fetchall()
    }
    assert rates == {
        "local": (5, 1, 4, 2, 1, 1, 0.5, 0.6),
        "elsewhere": (1, 0, 1, 1, 0, 0, 1.0, 1.0),
        "all": (6, 1, 5, 3, 1, 1, 0.6, 0.6667),
    }


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Ferretería Peña S.A.S.", "FERRETERIA PENA SAS"),
        ("M&M Hermanos & Cía. Ltda.", "M Y M HERMANOS Y CIA LTDA"),
        ("Inversiones  Oriente  Sociedad por Acciones Simplificada", "INVERSIONES ORIENTE S.A.S"),
        ("Alimentos S. en C.", "ALIMENTOS S EN C"),
        ("  juan   pérez  ", "JUAN PEREZ"),
    ],
)
def test_name_keys_ignore_case_accents_punctuation_and_legal_form_spelling(con, a, b) -> None:
    (ka, kb), = con.execute("select fi_name_key(?), fi_name_key(?)", [a, b]).fetchall()
    assert ka == kb


def test_name_keys_keep_what_tells_names_apart(con) -> None:
    (keys,) = con.execute(
        "select list_distinct([fi_name_key(x) for x in ?])",
        [["JUAN PEREZ GOMEZ", "JUAN PEREZ GOMEZ 2", "JUANA PEREZ GOMEZ", "PEREZ GOMEZ JUAN"]],
    ).fetchall()[0]
    assert len(keys) == 4
    assert con.execute("select fi_name_key('  ...  ')").fetchall() == [(None,)]


def test_unknown_ciiu_codes_are_flagged_per_source_and_column(wh) -> None:
    wh.execute(
        "create table ref.ciiu_classes (ciiu varchar, edition varchar, current_ciiu varchar)"
    )
    wh.execute(
        "insert into ref.ciiu_classes values ('4752', 'current', '4752'), "
        "('0111', 'current', '0111'), ('4711', 'current', '4711'), ('7110', '2012', '7112')"
    )
    wh.execute(
        "create table staging.stg_declarations as select * from (values ('900111222', '9999'), "
        "('900111222', '7110')) as t(nit, ciiu)"
    )
    wh.execute("alter table staging.stg_taxpayers add column ciiu varchar")
    wh.execute("update staging.stg_taxpayers set ciiu = case when nit = '43987654' "
               "then '0110' else '4711' end")
    wh.execute(
        "create table staging.stg_commerce_registry as select * from (values "
        "('900111222', '4752', '9999'), ('800555666', '4752', null), (null, '0000', null)) "
        "as t(nit, ciiu, ciiu_secondary)"
    )
    wh.execute(
        "create table staging.stg_ciiu_rates as select '4752' as ciiu, 'municipal' as rate_source"
    )
    run_sql(wh, "staging/unknown_ciiu")
    rows = wh.execute(
        "select source, source_column, ciiu, status, translated_to, rows, example_nits "
        "from staging.unknown_ciiu"
    ).fetchall()
    assert rows == [
        ("commerce_registry", "ciiu", "0000", "unknown", None, 1, []),
        ("commerce_registry", "ciiu_secondary", "9999", "unknown", None, 1, ["900111222"]),
        ("declarations", "ciiu", "7110", "translated", "7112", 1, ["900111222"]),
        ("declarations", "ciiu", "9999", "unknown", None, 1, ["900111222"]),
        ("taxpayers", "ciiu", "0110", "unknown", None, 1, ["43987654"]),
    ]
