"""A campaign: the best cases for one action, split at random into treatment and control
within strata of expected yield, recorded once and for all in ``ops.campaigns`` and
``ops.campaign_assignments``.

The draw is a pure function of its arguments and the data (``args_key``): running the command
again with the same arguments and data gives back the recorded campaign, never a new draw. A
case in a campaign still open (within the longest effect window, 180 days, of its as-of date)
is not drawn into another. The mail-merge file holds the treatment group only; the control
group receives nothing, which is what lets ``marts.campaign_effects`` measure the effect.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from fiscal_intel.actions.texts import NAMES, evidence, letter
from fiscal_intel.inspector_files import Sheet, write_workbook
from fiscal_intel.sqlfiles import frame, run_sql, scalar

OPEN_DAYS = 180  # a campaign is open (its cases taken) for its longest effect window
# The order of the actions, dearest first: a campaign of one action takes only cases whose
# chosen action is that one or a cheaper one (not taken by a higher action).
LEVEL = {"fiscalizacion": 0, "requerimiento": 1, "emplazamiento": 1, "carta": 2}
CAMPAIGN_ACTIONS = {"omiso": ("carta", "emplazamiento"), "inexacto": ("carta", "requerimiento")}
TARGET_STRATUM_SIZE = 10  # cases per stratum of expected yield (at most 10 strata)


@dataclass(frozen=True)
class Campaign:
    campaign_id: str
    program: str
    action: str
    as_of: date
    treatment: int
    control: int
    new: bool  # False: the same arguments gave back a campaign drawn before


def strata(n: int, max_strata: int = 10) -> np.ndarray:
    """Stratum 1..k of each of ``n`` cases in order of expected yield (best first): ``k``
    equal-sized groups of about TARGET_STRATUM_SIZE cases, at most ``max_strata``."""
    k = max(1, min(max_strata, n // TARGET_STRATUM_SIZE))
    return (np.arange(n) * k // max(n, 1) + 1).astype(np.int64)


def assign_arms(stratum: np.ndarray, control_share: float, rng: np.random.Generator) -> np.ndarray:
    """``treatment``/``control`` per case: within each stratum a random ``control_share`` of
    its cases (rounded, the remainder carried to the next stratum so the total is exact)."""
    arms = np.full(len(stratum), "treatment", dtype=object)
    carry = 0.0
    for s in np.unique(stratum):
        idx = np.flatnonzero(stratum == s)
        want = control_share * len(idx) + carry
        k = int(np.floor(want + 0.5))
        carry = want - k
        arms[rng.permutation(idx)[:k]] = "control"
    return arms


def args_key(program: str, action: str, size: int, control_share: float, seed: int,
             as_of: date, target: str = "expected") -> str:  # fmt: skip
    key = f"{program}|{action}|{size}|{control_share:.6g}|{seed}|{as_of.isoformat()}"
    return key if target == "expected" else f"{key}|{target}"


def ensure_register(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists ops")
    run_sql(con, "ops/campaigns")
    run_sql(con, "ops/campaign_assignments")


def candidates(
    con: duckdb.DuckDBPyConnection, program: str, action: str, as_of: date
) -> pl.DataFrame:
    """The program's open cases whose chosen action is ``action`` or a cheaper one, not in an
    open campaign, best first (expected recovery, then rank)."""
    allowed = [a for a, level in LEVEL.items() if level >= LEVEL[action]]
    return frame(
        con,
        "select r.nit, r.tax_year, r.program, r.expected_recovery, r.predicted_amount, r.rank "
        "from marts.audit_ranking as r where r.program = $program "
        "and list_contains($allowed, r.action) "
        "and not exists (select 1 from ops.campaign_assignments as a "
        "  join ops.campaigns as c using (campaign_id) "
        "  where a.nit = r.nit and a.tax_year = r.tax_year and c.open_until >= $as_of) "
        "order by r.expected_recovery desc, r.rank",
        {"program": program, "allowed": allowed, "as_of": as_of},
    )


def draw_campaign(
    con: duckdb.DuckDBPyConnection,
    *,
    program: str,
    action: str,
    size: int,
    control_share: float = 0.2,
    seed: int = 1,
    target: str = "expected",
) -> Campaign:
    """Draw (or find, when these arguments were drawn before) a campaign and record it.

    ``target`` ``expected`` takes the cases of most expected recovery; ``uplift`` the cases of
    most predicted uplift × amount, learnt from the past measured campaigns (uplift.learn)."""
    if action not in CAMPAIGN_ACTIONS.get(program, ()):
        raise ValueError(
            f"--action {action} does not apply to {program} cases: use "
            f"{' or '.join(CAMPAIGN_ACTIONS.get(program, ('carta',)))}"
        )
    if size < 2:
        raise ValueError("--size must be at least 2 (a treatment and a control case)")
    if not 0 < control_share < 1:
        raise ValueError("--control-share must be between 0 and 1")
    ensure_register(con)
    as_of = scalar(con, "select as_of from staging.as_of_date")
    if target not in ("expected", "uplift"):
        raise ValueError(f"--target {target}: use expected or uplift")
    key = args_key(program, action, size, control_share, seed, as_of, target)
    found = con.execute(
        "select campaign_id, treatment, control from ops.campaigns where args_key = ?", [key]
    ).fetchall()
    if found:
        cid, t, c = found[0]
        return Campaign(cid, program, action, as_of, t, c, new=False)
    pool = candidates(con, program, action, as_of)
    if target == "uplift":
        from fiscal_intel.actions.uplift import learn, predicted_uplift

        model = learn(con, program, action)
        if model is None:
            raise ValueError(
                f"--target uplift: no measured {program} {action} campaign to learn from yet"
            )
        pool = predicted_uplift(con, pool, model).sort(
            ["uplift_money", "rank"], descending=[True, False]
        )
    picked = pool.head(size)
    if picked.height < 2:
        raise ValueError(f"only {picked.height} {program} cases are free for a {action} campaign")
    stratum = strata(picked.height)
    rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
    arms = assign_arms(stratum, control_share, rng)
    cid = (f"CMP-{as_of:%Y%m%d}-{program}-{action}-"
           f"{hashlib.sha1(key.encode()).hexdigest()[:6]}")  # fmt: skip
    rows = picked.select("nit", "tax_year", "program", "expected_recovery").with_columns(
        campaign_id=pl.lit(cid),
        stratum=pl.Series(stratum, dtype=pl.Int32),
        arm=pl.Series(arms.tolist(), dtype=pl.Utf8),
    )
    record(con, cid, key, program, action, size, control_share, seed, as_of, rows)
    t = int((arms == "treatment").sum())
    return Campaign(cid, program, action, as_of, t, picked.height - t, new=True)


def record(
    con: duckdb.DuckDBPyConnection, cid: str, key: str, program: str, action: str, size: int,
    control_share: float, seed: int, as_of: date, rows: pl.DataFrame,
    created_by: str = "fiscal-intel campaign",
) -> None:
    """Write one campaign and its assignments in one transaction (insert only)."""
    ensure_register(con)
    t = rows.filter(pl.col("arm") == "treatment").height
    con.begin()
    try:
        con.execute(
            "insert into ops.campaigns values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [cid, key, program, action, size, control_share, seed, as_of,
             as_of + timedelta(days=OPEN_DAYS), t, rows.height - t, created_by],
        )  # fmt: skip
        con.register("_assignments", rows.to_arrow())
        con.execute(
            "insert into ops.campaign_assignments select campaign_id, nit, tax_year::integer, "
            "program, stratum, arm, expected_recovery from _assignments"
        )
        con.unregister("_assignments")
        con.commit()
    except BaseException:
        con.rollback()
        raise


MERGE_COLUMNS = {
    "es": [
        ("campaign_id", "Campaña", "text"),
        ("legal_name", "Razón social", "text"),
        ("nit", "NIT", "text"),
        ("tax_year", "Año gravable", "year"),
        ("action", "Acción", "text"),
        ("text", "Texto", "long"),
        ("basis", "Fundamento legal", "text"),
        ("evidence", "Información de terceros", "long"),
    ],
}


def merge_rows(con: duckdb.DuckDBPyConnection, campaign_id: str) -> list[tuple]:
    """The treatment group of a campaign, one row per case, for the mail merge."""
    rows = con.execute(
        "select a.nit, a.tax_year, a.program, c.action, e.legal_name, t.base_amount, t.agents "
        "from ops.campaign_assignments as a join ops.campaigns as c using (campaign_id) "
        "left join staging.stg_entities as e on a.nit = e.nit "
        "left join features.third_party_income as t "
        "  on a.nit = t.nit and a.tax_year = t.tax_year "
        "where a.campaign_id = ? and a.arm = 'treatment' order by a.stratum, a.nit, a.tax_year",
        [campaign_id],
    ).fetchall()
    out = []
    for nit, year, program, action, name, base, agents in rows:
        text, basis = letter(program, action, int(year))
        out.append((campaign_id, name, nit, int(year), NAMES["es"][action], text, basis,
                    evidence(base, agents, int(year))))  # fmt: skip
    return out


def write_merge_file(con: duckdb.DuckDBPyConnection, campaign_id: str, out: Path) -> int:
    """The mail-merge workbook (treatment group only) via the safe writer; returns its rows."""
    if out.suffix.lower() != ".xlsx":
        raise ValueError(f"{out}: use a .xlsx file name")
    rows = merge_rows(con, campaign_id)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_workbook(out, [Sheet("Envío", MERGE_COLUMNS["es"], rows)], "es")
    return len(rows)


def import_register(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    """Record campaigns drawn outside fiscal-intel (a trial the office ran before, the demo's
    planted one) from a CSV with the assignment columns plus ``action``, ``as_of`` and
    ``control_share``; a campaign already recorded is left as it is. Returns campaigns added."""
    rows = pl.read_csv(path, schema_overrides={"nit": pl.Utf8, "campaign_id": pl.Utf8},
                       try_parse_dates=True)  # fmt: skip
    ensure_register(con)
    added = 0
    for (cid,), group in rows.group_by("campaign_id", maintain_order=True):
        if con.execute("select count(*) from ops.campaigns where campaign_id = ?",
                       [cid]).fetchall()[0][0]:  # fmt: skip
            continue
        first = group.row(0, named=True)
        as_of = first["as_of"]
        as_of = as_of if isinstance(as_of, date) else date.fromisoformat(str(as_of))
        record(con, str(cid), f"import|{cid}", first["program"], first["action"], group.height,
               float(first["control_share"]), 0, as_of, group.select(
                   "campaign_id", "nit", "tax_year", "program", "stratum", "arm",
                   "expected_recovery"), created_by=f"import {path.name}")  # fmt: skip
        added += 1
    return added
