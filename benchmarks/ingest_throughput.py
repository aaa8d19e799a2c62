"""Ingest on the messy demo: rows per source, quarantine precision/recall, throughput, lists.

Writes the same municipality twice (``fiscal_intel.demo.generate`` and, with the same arguments,
``fiscal_intel.demo.messy.generate_messy``), then:

1. loads every landing file of each into a fresh DuckDB file, ``--repeats`` times (the cases
   taking turns), and reports the median load throughput (rows read per second: reading, typing,
   quarantine and commit) for the CSV/text files of each, and for all messy files (xlsx and
   parquet included);
2. reports rows read / loaded / quarantined per source on the messy landing and the quarantine's
   precision and recall against the planted manifest;
3. with ``--lists``, runs the whole pipeline on the clean landing, on the messy one, and on a
   messy one without corrupted rows (``bad_share=0``), and compares the top of each audit list
   (overlap of the top N after removing the cases the quarantined rows touched).

Usage: .venv/bin/python benchmarks/ingest_throughput.py [--taxpayers 15000] [--lists]
Results: benchmarks/ingest_throughput.json (and a table on stdout).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from fiscal_intel.demo import generate
from fiscal_intel.demo.messy import MANIFEST, generate_messy
from fiscal_intel.ingest.loader import load_source
from fiscal_intel.ingest.readers import TEXT_SUFFIXES
from fiscal_intel.ingest.sources import SOURCES

OUT = Path(__file__).with_suffix(".json")


def _load_all(landing: Path, db: Path, only_text: bool) -> tuple[int, float, dict]:
    """Load every file (or only the text ones) of ``landing``; rows read, seconds, per source."""
    rows, seconds, per_source = 0, 0.0, {}
    with tempfile.TemporaryDirectory() as scratch, duckdb.connect(str(db)) as con:
        for name, source in SOURCES.items():
            folder = landing / name
            if only_text:
                # A copy of the folder holding only its text files (hard links: no bytes copied).
                folder = Path(scratch) / name
                folder.mkdir()
                for path in sorted((landing / name).glob("*")):
                    if path.suffix.lower() in TEXT_SUFFIXES:
                        (folder / path.name).hardlink_to(path)
            start = time.perf_counter()
            result = load_source(con, source, folder)
            seconds += time.perf_counter() - start
            rows += result.total("rows_read")
            per_source[name] = {
                "files_loaded": sum(f.status == "loaded" for f in result.files),
                "files_duplicate": sum(f.status == "duplicate" for f in result.files),
                "files_failed": len(result.failures),
                "rows_read": result.total("rows_read"),
                "rows_loaded": result.total("rows_loaded"),
                "rows_quarantined": result.total("rows_quarantined"),
            }
    db.unlink()
    return rows, seconds, per_source


def _throughput(cases: dict[str, tuple[Path, bool]], work: Path, repeats: int) -> dict:
    """Median rows/s per case; the cases take turns within each repeat, so a busy machine
    slows them alike instead of whichever happened to run during someone else's job."""
    runs: dict[str, list[float]] = {name: [] for name in cases}
    last: dict[str, tuple[int, dict]] = {}
    for i in range(repeats):
        for name, (landing, only_text) in cases.items():
            rows, seconds, per_source = _load_all(landing, work / f"t{i}.duckdb", only_text)
            runs[name].append(rows / seconds)
            last[name] = (rows, per_source)
    return {
        name: {
            "rows": last[name][0],
            "rows_per_s_median": round(statistics.median(runs[name])),
            "rows_per_s_runs": [round(r) for r in runs[name]],
            "per_source": last[name][1],
        }
        for name in cases
    }


def _precision_recall(landing: Path, manifest: dict, work: Path) -> dict:
    db = work / "pr.duckdb"
    with duckdb.connect(str(db)) as con:
        for name, source in SOURCES.items():
            load_source(con, source, landing / name)
        quarantined = {
            (s, f, n): r
            for s, f, n, r in con.execute(
                "select source, file, row_number, reason from ops.quarantine"
            ).fetchall()
        }
    planted = {(p["source"], p["file"], p["row_number"]): p for p in manifest["planted"]}
    hits = set(quarantined) & set(planted)
    right_reason = sum(
        quarantined[k] == planted[k]["reason"]
        if "reason" in planted[k]
        else quarantined[k].startswith(planted[k]["reason_starts"])
        for k in hits
    )
    return {
        "planted": len(planted),
        "quarantined": len(quarantined),
        "true_positives": len(hits),
        "precision": len(hits) / len(quarantined) if quarantined else 1.0,
        "recall": len(hits) / len(planted) if planted else 1.0,
        "reason_as_planted": right_reason,
    }


def _ranking(warehouse: Path) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            "select program, rank, nit, tax_year, expected_recovery "
            "from marts.audit_ranking order by program, rank"
        ).fetchall()


def _run(landing: Path, warehouse: Path) -> float:
    from fiscal_intel.runner import run_pipeline
    from fiscal_intel.settings import load_settings

    settings = load_settings(
        landing=str(landing), warehouse=str(warehouse), continue_past_unreadable=True
    )
    start = time.perf_counter()
    run_pipeline(settings)
    return time.perf_counter() - start


def compare_lists(clean: list[tuple], messy: list[tuple], manifest: dict, tops=(10, 50, 100)):
    """Top-N overlap per program once the cases touched by quarantined rows are set aside."""
    every_year = {t["nit"] for t in manifest["touched_cases"] if t["tax_year"] is None}
    one_year = {(t["nit"], t["tax_year"]) for t in manifest["touched_cases"]}

    def untouched(nit: str, year: int) -> bool:
        return nit not in every_year and (nit, year) not in one_year

    out = {}
    for program in ("omiso", "inexacto"):
        a = [(n, y) for p, _, n, y, _ in clean if p == program and untouched(n, y)]
        b = [(n, y) for p, _, n, y, _ in messy if p == program and untouched(n, y)]
        out[program] = {
            f"top{n}": {
                "overlap": len(set(a[:n]) & set(b[:n])),
                "same_order": a[:n] == b[:n],
            }
            for n in tops
        }
        out[program]["touched_in_clean_list"] = sum(
            not untouched(n, y) for p, _, n, y, _ in clean if p == program
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taxpayers", type=int, default=15_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--lists", action="store_true", help="also run the whole pipeline")
    parser.add_argument("--work", help="folder for the landings and warehouses (default: temp)")
    args = parser.parse_args()

    work = Path(args.work or tempfile.mkdtemp(prefix="fiscal_intel_bench_"))
    clean, messy = work / "clean", work / "messy"
    generate(clean / "landing", clean / "truth", taxpayers=args.taxpayers, seed=args.seed)
    summary = generate_messy(
        messy / "landing", messy / "truth", taxpayers=args.taxpayers, seed=args.seed
    )
    manifest = json.loads((messy / "truth" / MANIFEST).read_text())

    result = {
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, "
        f"python {platform.python_version()}, duckdb {duckdb.__version__}",
        "taxpayers": args.taxpayers,
        "seed": args.seed,
        "repeats": args.repeats,
        "messy": summary.describe(),
        "planted_by_kind": manifest["planted_by_kind"],
        "throughput": _throughput(
            {
                "canonical_csv": (clean / "landing", True),
                "messy_csv": (messy / "landing", True),
                "messy_all_formats": (messy / "landing", False),
            },
            work,
            args.repeats,
        ),
        "quarantine_vs_manifest": _precision_recall(messy / "landing", manifest, work),
    }
    if args.lists:
        zero = work / "messy0"
        generate_messy(
            zero / "landing", zero / "truth", taxpayers=args.taxpayers, seed=args.seed,
            bad_share=0.0,
        )  # fmt: skip
        seconds = {
            name: round(_run(root / "landing", root / "w.duckdb"), 1)
            for name, root in (("clean", clean), ("messy", messy), ("messy_no_bad_rows", zero))
        }
        clean_list = _ranking(clean / "w.duckdb")
        zero_manifest = json.loads((zero / "truth" / MANIFEST).read_text())
        result["lists"] = {
            "pipeline_seconds": seconds,
            "messy_vs_clean": compare_lists(clean_list, _ranking(messy / "w.duckdb"), manifest),
            "messy_no_bad_rows_identical_to_clean": _ranking(zero / "w.duckdb") == clean_list,
            "messy_no_bad_rows_vs_clean": compare_lists(
                clean_list, _ranking(zero / "w.duckdb"), zero_manifest
            ),
        }
    OUT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    t = result["throughput"]
    print(f"work folder: {work}")
    for name, r in t.items():
        print(f"{name:20s} {r['rows']:>9,} rows  median {r['rows_per_s_median']:>9,} rows/s "
              f"(runs {r['rows_per_s_runs']})")  # fmt: skip
    print("messy per source:", json.dumps(t["messy_all_formats"]["per_source"], indent=1))
    print("quarantine vs manifest:", result["quarantine_vs_manifest"])
    if "lists" in result:
        print("lists:", json.dumps(result["lists"], indent=1))
    print(f"written to {OUT}")


if __name__ == "__main__":
    main()
