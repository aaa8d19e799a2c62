"""The demo municipality exported messily: nothing lost but the planted bad rows, same lists.

The session's ``demo_run`` is the clean 1,000-taxpayer municipality (seed 7); the messy versions
here are the same municipality written as real offices export it.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections import Counter

import duckdb
import pytest

from fiscal_intel.cli import main
from fiscal_intel.demo.messy import MANIFEST, generate_messy
from fiscal_intel.runner import run_pipeline
from fiscal_intel.scoring.ranking import rank_candidates, stored_model
from fiscal_intel.settings import load_settings
from fiscal_intel.sqlfiles import frame

TAXPAYERS, SEED = 1_000, 7  # the conftest's demo_run


@pytest.fixture(scope="module")
def messy_formats(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every format and junk row, no corrupted row (`--bad-share 0`), run up to the features.

    The models are deterministic (tests/test_pipeline_demo.py): identical features give
    identical lists, and `benchmarks/ingest_throughput.py --lists` compares the lists themselves
    at 15,000 taxpayers. Stopping before scoring keeps this test inside the suite's budget.
    """
    root = tmp_path_factory.mktemp("messy_formats")
    landing, truth = root / "landing", root / "truth"
    generate_messy(landing, truth, taxpayers=TAXPAYERS, seed=SEED, bad_share=0.0)
    settings = load_settings(
        landing=str(landing), warehouse=str(root / "w.duckdb"), continue_past_unreadable=True
    )
    stages = run_pipeline(settings, stages=("ref", "raw", "staging", "features"))
    return {"root": root, "warehouse": settings.warehouse, "stages": stages,
            "manifest": json.loads((truth / MANIFEST).read_text())}  # fmt: skip


@pytest.fixture(scope="module")
def messy_bad(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """~1 % corrupted rows, loaded and staged (the planted rows are the answer key)."""
    root = tmp_path_factory.mktemp("messy_bad")
    landing, truth = root / "landing", root / "truth"
    generate_messy(landing, truth, taxpayers=TAXPAYERS, seed=SEED, bad_share=0.01)
    settings = load_settings(
        landing=str(landing), warehouse=str(root / "w.duckdb"), continue_past_unreadable=True
    )
    stages = run_pipeline(settings, stages=("ref", "raw", "staging"))
    return {"root": root, "settings": settings, "stages": stages,
            "manifest": json.loads((truth / MANIFEST).read_text())}  # fmt: skip


LINEAGE = {"source_file", "source_row"}  # which file and row: differs by design


def test_messy_formats_give_the_clean_staging_and_features_row_for_row(
    messy_formats, demo_run
) -> None:
    con = duckdb.connect()
    con.execute(f"attach '{demo_run['warehouse']}' as clean (read_only)")
    con.execute(f"attach '{messy_formats['warehouse']}' as messy (read_only)")
    tables = con.execute(
        "select table_schema, table_name, list(column_name order by ordinal_position) "
        "from information_schema.columns where table_catalog = 'messy' "
        "and table_schema in ('staging', 'features') group by all order by all"
    ).fetchall()
    assert len(tables) >= 14
    for schema, table, columns in tables:
        cols = ", ".join(f'"{c}"' for c in columns if c not in LINEAGE)
        for a, b in (("clean", "messy"), ("messy", "clean")):
            (differ,) = con.execute(
                f"select count(*) from (select {cols} from {a}.{schema}.{table} "
                f"except all select {cols} from {b}.{schema}.{table})"
            ).fetchall()[0]
            assert differ == 0, (schema, table, a)
    (rows,) = con.execute("select count(*) from messy.features.inexacto_features").fetchall()[0]
    assert rows > 1_000
    # Only the junk rows (headers repeated mid-file, report totals) were quarantined.
    junk = Counter(p["kind"] for p in messy_formats["manifest"]["planted"])
    assert set(junk) == {"repeated_header", "total_row"}
    (quarantined,) = con.execute("select count(*) from messy.ops.quarantine").fetchall()[0]
    assert quarantined == sum(junk.values())


def test_the_messy_demo_command_runs_past_its_unreadable_file(tmp_path, monkeypatch) -> None:
    import fiscal_intel.cli as cli

    seen = {}

    def fake_run(settings, **kwargs) -> int:  # the pipeline itself is tested above and below
        seen["settings"] = settings
        return 1

    monkeypatch.setattr(cli, "_run", fake_run)
    landing = tmp_path / "landing"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["demo", "--messy", "--taxpayers", "60", "--seed", "3", "--bad-share", "0.02",
                     "--landing", str(landing), "--warehouse", str(tmp_path / "w.duckdb")])
    assert code == 1
    assert seen["settings"].continue_past_unreadable is True
    manifest = json.loads((tmp_path / "truth" / MANIFEST).read_text())
    assert manifest["args"]["bad_share"] == 0.02
    assert len(manifest["unreadable"]) == 1
    assert (landing / "declarations" / manifest["unreadable"][0]["file"]).is_file()
    assert "planted bad rows" in out.getvalue()


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (["--municipalities", "3", "--messy"], "--messy writes one municipality"),
        (["--municipalities", "3", "--world", "llanura"], "drop --world"),
        (["--messy", "--world", "llanura"], "--messy writes the rionegro world only"),
    ],
)
def test_a_demo_option_it_would_not_honour_is_refused_before_anything_is_written(
    tmp_path, options, said
) -> None:
    landing = tmp_path / "landing"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["demo", "--taxpayers", "60", *options, "--landing", str(landing),
                     "--warehouse", str(tmp_path / "w.duckdb")])  # fmt: skip
    assert code == 2
    assert said in err.getvalue()
    assert not landing.exists() and not (tmp_path / "truth").exists()


def test_quarantine_precision_and_recall_against_the_manifest(messy_bad) -> None:
    planted = {
        (p["source"], p["file"], p["row_number"]): p for p in messy_bad["manifest"]["planted"]
    }
    with duckdb.connect(messy_bad["settings"].warehouse, read_only=True) as con:
        quarantined = {
            (s, f, n): reason
            for s, f, n, reason in con.execute(
                "select source, file, row_number, reason from ops.quarantine"
            ).fetchall()
        }
    assert len(planted) > 150
    assert set(quarantined) == set(planted)  # precision and recall are both 1
    for key, entry in planted.items():
        if "reason" in entry:
            assert quarantined[key] == entry["reason"], key
        else:
            assert quarantined[key].startswith(entry["reason_starts"]), key
    kinds = Counter(p["kind"] for p in planted.values())
    assert len(kinds) >= 10, kinds  # several kinds of bad row


def test_every_row_read_is_loaded_or_quarantined(messy_bad) -> None:
    manifest = messy_bad["manifest"]
    with duckdb.connect(messy_bad["settings"].warehouse, read_only=True) as con:
        logged = dict(
            con.execute(
                "select source, sum(rows_read) from ops.load_log where status = 'loaded' "
                "group by source"
            ).fetchall()
        )
        accounting = con.execute(
            "select count(*) from ops.load_log where status = 'loaded' "
            "and rows_read <> rows_loaded + rows_quarantined"
        ).fetchall()
        statuses = Counter(s for (s,) in con.execute("select status from ops.load_log").fetchall())
    assert logged == manifest["rows_by_source"]
    assert accounting == [(0,)]
    assert statuses == {"loaded": 24, "duplicate": 1, "failed": 1}


def test_staging_differs_from_the_clean_municipality_only_by_the_quarantined_rows(
    messy_bad, demo_run
) -> None:
    manifest = messy_bad["manifest"]
    junk = ("repeated_header", "total_row")
    corrupted = Counter(p["source"] for p in manifest["planted"] if p["kind"] not in junk)
    touched_all = {t["nit"] for t in manifest["touched_cases"] if t["tax_year"] is None}
    touched = {(t["nit"], t["tax_year"]) for t in manifest["touched_cases"]}
    con = duckdb.connect()
    con.execute(f"attach '{demo_run['warehouse']}' as clean (read_only)")
    con.execute(f"attach '{messy_bad['settings'].warehouse}' as messy (read_only)")

    def lost(table: str, columns: str) -> tuple[int, int]:
        """Rows only in the clean table, rows only in the messy one."""

        def only(a: str, b: str) -> int:
            sql = (
                f"select count(*) from (select {columns} from {a}.staging.{table} "
                f"except all select {columns} from {b}.staging.{table})"
            )
            return con.execute(sql).fetchall()[0][0]

        return only("clean", "messy"), only("messy", "clean")

    assert lost("stg_payments", "payment_id, nit, tax_year, paid_on, amount") == (
        corrupted["payments"], 0
    )
    assert lost("stg_withholdings", "* exclude (source_file, source_row)") == (
        corrupted["withholdings"], 0
    )
    assert lost("stg_taxpayers", "* exclude (source_file, source_row)") == (
        corrupted["taxpayers"], 0
    )
    assert lost("stg_audits", "* exclude (source_file, source_row)") == (corrupted["audits"], 0)
    assert lost("stg_commerce_registry", "* exclude (source_file, source_row)") == (
        corrupted["commerce_registry"], 0
    )
    # A lost correction brings back the return it corrected: every difference is a touched case.
    changed = con.execute(
        "select distinct nit, tax_year from ("
        "(select * exclude (source_file, source_row) from clean.staging.stg_declarations except "
        "select * exclude (source_file, source_row) from messy.staging.stg_declarations) union all "
        "(select * exclude (source_file, source_row) from messy.staging.stg_declarations except "
        "select * exclude (source_file, source_row) from clean.staging.stg_declarations))"
    ).fetchall()
    assert changed
    assert all(n in touched_all or (n, y) in touched for n, y in changed)


def test_re_running_with_no_new_files_changes_nothing(messy_bad) -> None:
    settings = messy_bad["settings"]
    tables = ["ops.load_log", "ops.quarantine", *(f"raw.{s}" for s in (
        "taxpayers", "declarations", "payments", "withholdings", "commerce_registry", "audits"))]

    def snapshot() -> dict[str, list]:
        with duckdb.connect(settings.warehouse, read_only=True) as con:
            return {t: con.execute(f"select * from {t} order by all").fetchall() for t in tables}

    before = snapshot()
    stages = run_pipeline(settings, stages=("raw",))
    assert snapshot() == before
    raw_meta = stages[0].metadata
    assert sum(m["files_loaded"] for m in raw_meta.values()) == 0
    assert sum(m["files_failed"] for m in raw_meta.values()) == 1  # still reported, not re-logged


def test_continue_past_unreadable_builds_every_table_then_exits_1(tmp_path, capsys) -> None:
    """On the hand-written landing plus one broken file: lists are built, the exit says why."""
    import shutil
    from pathlib import Path

    landing = tmp_path / "landing"
    shutil.copytree(Path(__file__).parent / "fixtures" / "landing_small", landing)
    (landing / "payments" / "pagos_marzo.xlsx").write_bytes(b"<html><table></table></html>")
    warehouse = tmp_path / "w.duckdb"
    code = main(["run", "--landing", str(landing), "--warehouse", str(warehouse),
                 "--continue-past-unreadable"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err == [
        "fiscal-intel: stage raw: payments/pagos_marzo.xlsx: it is an HTML or XML page, not a "
        "table file (open it in a spreadsheet and save it as .xlsx or .csv)"
    ]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from marts.audit_ranking").fetchall()[0][0] > 0
        assert con.execute("select count(*) from raw.payments").fetchall() == [(7,)]
        assert con.execute(
            "select status from ops.load_log where file = 'pagos_marzo.xlsx'"
        ).fetchall() == [("failed",)]


@pytest.fixture(scope="module")
def messy_features(messy_bad) -> dict:
    """The ~1 % corrupted municipality taken on to the feature tables."""
    run_pipeline(messy_bad["settings"], stages=("features",))
    return messy_bad


def test_a_return_in_quarantine_is_not_an_omiso_case(messy_features) -> None:
    """A filer whose return could not be read did file: it is not sent an omiso inspector."""
    messy_bad = messy_features
    with duckdb.connect(messy_bad["settings"].warehouse, read_only=True) as con:
        unread = con.execute(
            "select count(*), count(nit), count(tax_year) from ops.quarantine "
            "where source = 'declarations'"
        ).fetchone()
        flagged = con.execute(
            "select count(*) from features.omiso_features as f "
            "where f.is_candidate and exists (select 1 from ops.quarantine as q "
            "where q.source = 'declarations' and q.nit = f.nit and q.tax_year = f.tax_year)"
        ).fetchone()[0]
        obliged = con.execute(
            "select count(*) from features.omiso_features as f where f.filed = 0 "
            "and exists (select 1 from ops.quarantine as q where q.source = 'declarations' "
            "and q.nit = f.nit and q.tax_year = f.tax_year)"
        ).fetchone()[0]
    # rows whose NIT or year is the corruption, or whose fields do not line up, name no case
    assert unread[0] > 10 and unread[1] > 0.5 * unread[0] and unread[2] > 0.5 * unread[0]
    assert obliged > 0  # such filers are obliged and have no readable return ...
    assert flagged == 0  # ... yet none of them is an omiso case


def test_the_clean_model_ranks_the_messy_cases_as_it_ranks_the_clean_ones(
    messy_features, demo_run
) -> None:
    """Scored by the same model (the nightly job between yearly retrains), the cases no
    quarantined row names are ranked as in the clean municipality: what the quarantine changes
    beyond its own cases are peer statistics, and they move scores by less than the two
    significant figures a ranking keeps. Retraining on 1 % fewer rows moves more
    (benchmarks/stability.py reports both)."""
    manifest = messy_features["manifest"]
    every_year = {t["nit"] for t in manifest["touched_cases"] if t["tax_year"] is None}
    one_year = {(t["nit"], t["tax_year"]) for t in manifest["touched_cases"]}
    with duckdb.connect(str(demo_run["warehouse"]), read_only=True) as con:
        models = {p: stored_model(con, p) for p in ("omiso", "inexacto")}
        clean = {p: frame(con, f"select * from features.{p}_features where is_candidate")
                 for p in models}  # fmt: skip
    with duckdb.connect(messy_features["settings"].warehouse, read_only=True) as con:
        messy = {p: frame(con, f"select * from features.{p}_features where is_candidate")
                 for p in models}  # fmt: skip

    def untouched(program: str, candidates) -> list[tuple[str, int]]:
        ranked = rank_candidates(models[program], candidates).select("nit", "tax_year").rows()
        return [(n, y) for n, y in ranked if n not in every_year and (n, y) not in one_year]

    for program in models:
        a, b = untouched(program, clean[program]), untouched(program, messy[program])
        assert len(a) > 50
        assert a[:10] == b[:10], program  # the same cases in the same order
        # further down, cases within rounding of each other may trade places at the cut
        assert len(set(a[:50]) & set(b[:50])) >= 48, program
