"""Column mappings: the shipped Spanish defaults, a municipality's override, enum spellings."""

from __future__ import annotations

import tomllib
from pathlib import Path

import duckdb
import pytest

from fiscal_intel.ingest.loader import load_source
from fiscal_intel.ingest.mappings import (
    SHIPPED,
    MappingError,
    load_mapping,
    normalise_header,
    normalise_value,
)
from fiscal_intel.ingest.sources import SOURCES


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_every_source_ships_a_consistent_mapping(source: str) -> None:
    assert (SHIPPED / f"{source}.toml").is_file()
    mapping = load_mapping(source)
    owners: dict[str, str] = {}
    for column, aliases in mapping.aliases.items():
        assert aliases[0] == column  # the contract's own name always comes first
        for alias in aliases:
            assert alias == normalise_header(alias)
            assert owners.setdefault(alias, column) == column, (alias, owners[alias], column)
    # No alias a shipped file lists was silently dropped for clashing with another column.
    listed = tomllib.loads((SHIPPED / f"{source}.toml").read_text("utf-8")).get("columns", {})
    for column, aliases in listed.items():
        assert {normalise_header(a) for a in aliases} <= set(mapping.aliases[column]), column


def test_the_chamber_of_commerce_headers_named_in_the_issue_map() -> None:
    mapping = load_mapping("commerce_registry")
    headers = ["MATRICULA", "NIT", "DV", "RAZON_SOCIAL", "CIIU", "COD_MUNICIPIO",
               "FECHA_MATRICULA", "ULTIMO_ANO_RENOVADO", "ESTADO_MATRICULA", "Observación"]
    resolution = mapping.resolve(headers)
    assert resolution.missing == []
    assert resolution.names == [
        "matricula", "nit", "dv", "legal_name", "ciiu", "municipality_code", "registered_on",
        "last_renewal_year", "status", "_x_observacion",
    ]


def test_headers_compare_without_case_accents_spaces_or_punctuation() -> None:
    assert normalise_header(" Razón  Social ") == "razon_social"
    assert normalise_header("AÑO GRAVABLE") == "ano_gravable"
    assert normalise_header("No. Formulario") == "no_formulario"
    assert normalise_header("\ufeffNIT") == "nit"
    assert normalise_value(" Persona  Jurídica ") == "persona juridica"
    assert normalise_value("no_finding") == "no finding"


def test_enum_spellings_load_as_the_contracts_values(tmp_path: Path) -> None:
    folder = tmp_path / "taxpayers"
    folder.mkdir()
    (folder / "rit.csv").write_text(
        "NIT;TIPO PERSONA;RAZÓN SOCIAL;CIIU;FECHA INSCRIPCIÓN;ESTADO;RÉGIMEN\n"
        "900111222;Persona Jurídica;A SAS;4752;02/03/2015;ACTIVO;Régimen Simple\n"
        "43987654;PN;B;111;19/07/2012;cancelada;\n"
        "71234567;natural;C;4711;15/06/2018;Suspendido;ordinario\n",
        encoding="cp1252",
    )
    with duckdb.connect() as con:
        load_source(con, SOURCES["taxpayers"], folder)
        rows = con.execute(
            "select taxpayer_type, status, regime from raw.taxpayers order by _row_number"
        ).fetchall()
    assert rows == [
        ("juridica", "active", "simple"),
        ("natural", "cancelled", None),
        ("natural", "inactive", "ordinario"),
    ]


def test_an_override_folder_adds_headers_and_wins(tmp_path: Path) -> None:
    overrides = tmp_path / "mappings"
    overrides.mkdir()
    # This office calls the receipt "REFERENCIA" (shipped: a payment_id alias too) and the
    # payer "CODIGO_CONTRIBUYENTE"; its "VALOR" is a fee, its amount "NETO_RECAUDADO".
    (overrides / "payments.toml").write_text(
        '[columns]\nnit = ["CODIGO_CONTRIBUYENTE"]\namount = ["NETO RECAUDADO"]\n'
        'payment_id = "referencia"\n',
        encoding="utf-8",
    )
    mapping = load_mapping("payments", overrides)
    assert mapping.files[0].endswith("mappings/payments.toml")
    resolution = mapping.resolve(
        ["REFERENCIA", "CODIGO_CONTRIBUYENTE", "VIGENCIA", "FECHA PAGO", "VALOR", "NETO RECAUDADO"]
    )
    assert resolution.names == [
        "payment_id", "nit", "tax_year", "paid_on", "_x_valor", "amount",
    ]
    assert resolution.missing == []
    # Without the override the same header row misses the payer.
    assert load_mapping("payments").resolve(["REFERENCIA", "CODIGO_CONTRIBUYENTE"]).missing == [
        "nit", "tax_year", "paid_on", "amount",
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[columns]\nreceipt = ["RECIBO"]\n', "'receipt' is not a column of payments"),
        ("[columns]\nnit = 3\n", "nit must be a list of headers"),
        ("[colums]\n", "unknown table(s) colums"),
        ('[values.amount]\nx = ["y"]\n', "only enum columns take value spellings"),
        ("[columns\n", "mapping file"),
    ],
)
def test_a_bad_override_fails_naming_the_file(tmp_path: Path, text: str, problem: str) -> None:
    (tmp_path / "payments.toml").write_text(text, encoding="utf-8")
    with pytest.raises(MappingError) as info:
        load_mapping("payments", tmp_path)
    assert str(tmp_path / "payments.toml") in str(info.value)
    assert problem in str(info.value)


def test_an_unknown_enum_spelling_in_an_override_is_refused(tmp_path: Path) -> None:
    (tmp_path / "audits.toml").write_text('[values.outcome]\nclosed = ["CERRADO"]\n', "utf-8")
    with pytest.raises(MappingError, match="values.outcome.closed is not one of"):
        load_mapping("audits", tmp_path)
