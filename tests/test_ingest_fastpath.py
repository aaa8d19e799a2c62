"""DuckDB's CSV reader (the fast path) loads exactly what Python's csv module (the careful
path) loads: the same rows, row numbers, quarantine reasons and raw text, the same log."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from fiscal_intel.demo.messy import generate_messy
from fiscal_intel.ingest import loader
from fiscal_intel.ingest.sources import SOURCES

FIXTURES = Path(__file__).parent / "fixtures"
HEADER = "payment_id;nit;tax_year;paid_on;amount\n"


def _load_all(landing: Path, db: Path, fast: bool, monkeypatch) -> tuple[dict, int]:
    """Every source of ``landing`` loaded into ``db``; the tables as sorted rows, and how many
    files DuckDB read itself."""
    monkeypatch.setattr(loader, "FAST_CSV", fast)
    planned = []
    real = loader._load_planned

    def spy(*args, **kwargs):
        planned.append(args[4])
        return real(*args, **kwargs)

    monkeypatch.setattr(loader, "_load_planned", spy)
    con = duckdb.connect(str(db))
    present = [name for name in SOURCES if (landing / name).is_dir()]
    for name in present:
        loader.load_source(con, SOURCES[name], landing / name)
    tables = {}
    for name in present:
        tables[name] = con.execute(f"select * exclude (_batch_id) from raw.{name} order by all")
        tables[name] = tables[name].fetchall()
    tables["quarantine"] = con.execute(
        "select source, file, row_number, reason, raw from ops.quarantine order by all"
    ).fetchall()
    tables["load_log"] = con.execute(
        "select source, file, status, rows_read, rows_loaded, rows_quarantined, message, format "
        "from ops.load_log order by all"
    ).fetchall()
    con.close()
    return tables, len(planned)


def _same_either_way(landing: Path, tmp_path: Path, monkeypatch) -> int:
    careful, _ = _load_all(landing, tmp_path / "careful.duckdb", False, monkeypatch)
    fast, planned = _load_all(landing, tmp_path / "fast.duckdb", True, monkeypatch)
    for table in careful:
        assert fast[table] == careful[table], table
    return planned


@pytest.mark.parametrize("fixture", ["landing_small", "landing_messy"])
def test_fixtures_load_the_same_either_way(fixture: str, tmp_path, monkeypatch) -> None:
    _same_either_way(FIXTURES / fixture, tmp_path, monkeypatch)


def test_the_messy_demo_loads_the_same_either_way(tmp_path, monkeypatch) -> None:
    landing = tmp_path / "landing"
    generate_messy(landing, tmp_path / "truth", taxpayers=300, seed=3, bad_share=0.02)
    planned = _same_either_way(landing, tmp_path, monkeypatch)
    assert planned >= 5  # most of its CSVs are plain enough for DuckDB (others fall back)


EDGE_CASES = {
    # name: (bytes, whether DuckDB may read it itself)
    "plain": (HEADER + "P1;900123456;2023;2023-04-30;1000\n", True),
    "crlf_bom": (
        ("\ufeff" + HEADER + "P1;900123456;2023;2023-04-30;1000\n").replace("\n", "\r\n"),
        True,
    ),
    "quoted_delimiter_and_newline": (
        HEADER + 'P1;900123456;2023;2023-04-30;"1.000"\n"P\n2";900123456;2023;x;5\n',
        True,
    ),
    "bad_values": (HEADER + "P1;900123456-0;1890;31/02/2021;abc\nP2;;2023;2023-01-01;\n", True),
    "blank_line": (
        HEADER + "P1;900123456;2023;2023-04-30;1000\n\nP2;900123456;2023;2023-04-30;5\n",
        False,
    ),
    "blank_fields_row": (HEADER + ";;;;\nP2;900123456;2023;2023-04-30;5\n", True),
    "short_row": (HEADER + "P1;900123456;2023;2023-04-30\nP2;900123456;2023;2023-04-30;5\n", True),
    "long_row": (
        HEADER + "P1;900123456;2023;2023-04-30;1;2\nP2;900123456;2023;2023-04-30;5\n",
        True,
    ),
    "trailing_delimiter": (
        HEADER.replace("\n", ";\n") + "P1;900123456;2023;2023-04-30;1000;\n",
        False,
    ),
    "unclosed_quote": (
        HEADER + 'P1;"900123456;2023;2023-04-30;1000\nP2;1;2023;2023-04-30;5\n',
        True,
    ),
    "title_rows": ("Reporte de pagos\n\n" + HEADER + "P1;900123456;2023;2023-04-30;1000\n", False),
    "lone_cr": ((HEADER + "P1;900123456;2023;2023-04-30;1000\n").replace("\n", "\r"), False),
}


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_edge_cases_load_the_same_either_way(case, encoding, tmp_path, monkeypatch) -> None:
    text, plannable = EDGE_CASES[case]
    if encoding == "cp1252":
        # Bytes that differ between cp1252 and Latin-1; a code page has no BOM.
        text = text.replace("P1", "P€ñ1").removeprefix("\ufeff")
    landing = tmp_path / "landing"
    (landing / "payments").mkdir(parents=True)
    (landing / "payments" / "p.csv").write_bytes(text.encode(encoding))
    planned = _same_either_way(landing, tmp_path, monkeypatch)
    assert planned == (1 if plannable else 0)


def test_row_numbers_follow_the_file_when_duckdb_reads_in_parallel(tmp_path) -> None:
    """A file large enough for DuckDB to split across threads keeps each record's number."""
    rows = 400_000  # ~20 MB: many of DuckDB's read buffers
    lines = [HEADER] + [f"P{i};900123456;2023;2023-04-30;{i}\n" for i in range(1, rows + 1)]
    path = tmp_path / "payments" / "big.csv"
    path.parent.mkdir()
    path.write_text("".join(lines), encoding="utf-8")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("set threads = 4")
    load = loader.load_source(con, SOURCES["payments"], path.parent).files[0]
    assert (load.rows_read, load.rows_loaded) == (rows, rows)
    wrong = con.execute(
        "select count(*) from raw.payments where payment_id <> 'P' || _row_number "
        "or amount <> _row_number"
    ).fetchone()[0]
    assert wrong == 0
