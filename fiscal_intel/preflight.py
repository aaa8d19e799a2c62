"""Why a run cannot start, in one line, checked before any stage and before the writer lock:
a landing folder with nothing to load (or files in the wrong place), a warehouse file that
cannot be written. The command line and the department runner ask the same questions.
"""

from __future__ import annotations

from pathlib import Path


def landing_problem(landing: Path) -> str | None:
    """Why a landing folder cannot be run on, in one line, or None: table files dropped in its
    root (each belongs in its source's subfolder) or no file in any source's subfolder."""
    from fiscal_intel.ingest.loader import landing_files
    from fiscal_intel.ingest.readers import SUFFIXES
    from fiscal_intel.ingest.sources import SOURCES

    folders = ", ".join(f"{name}/" for name in SOURCES)
    # A data file in the root would be silently skipped; a README beside the folders is fine.
    tables = SUFFIXES | {".xls", ".ods"}
    loose = [p for p in landing_files(landing) if p.suffix.lower() in tables]
    if loose:
        shown = ", ".join(p.name for p in loose[:3]) + (" ..." if len(loose) > 3 else "")
        return (
            f"landing folder {landing} has {len(loose)} file(s) in its root ({shown}): "
            f"put each in the subfolder of its source ({folders})"
        )
    if not any(landing_files(landing / name) for name in SOURCES):
        return f"landing folder {landing} holds no file in any source subfolder ({folders})"
    return None


def warehouse_problem(warehouse: Path) -> str | None:
    """Why the warehouse file cannot be written, in one line, or None."""
    import tempfile

    try:
        warehouse.parent.mkdir(parents=True, exist_ok=True)
        if warehouse.exists():
            if not warehouse.is_file():
                return f"cannot write the warehouse {warehouse}: it is not a file"
            with warehouse.open("r+b"):
                pass
        else:
            with tempfile.TemporaryFile(dir=warehouse.parent):
                pass
    except OSError as exc:
        return f"cannot write the warehouse {warehouse}: {exc.strerror or exc}"
    return None
