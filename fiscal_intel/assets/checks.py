"""Data checks beside what they check: GX suites on staged tables, SQL rules across tables.

Ingestion gates are blocking: when one fails, nothing downstream of that table runs in the same
run, and the check's description says why.

Each check is a :class:`Check` (its key, description, blocking flag, the tables it reads and
how it is evaluated). A check that reads only its asset runs in that asset's step, after the
table is built (:func:`with_checks`: the asset's ``check_specs``); the checks that read other
tables keep steps of their own (``asset_checks``: the freshness checks in one step, which all
read every raw table, ``filer_known`` and ``unit_mismatch`` one each). Every check keeps its
key, its own result and its place under its asset in the UI; a step costs Dagster its events
and bookkeeping, so the 45 checks cost 3 steps of their own instead of 20
(benchmarks/department_cost.md).
"""

import inspect
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from fiscal_intel.assets.staging import STAGED_TABLES
from fiscal_intel.catalogue import comment_sql_table
from fiscal_intel.ingest.sources import SOURCES
from fiscal_intel.resources import FiscalSettings
from fiscal_intel.sqlfiles import run_sql
from fiscal_intel.validation.gx import SuiteOutcome

# Rows GX itself validates per table: all of them up to this size; above it, a deterministic
# sample, while the same suite runs over every row inside DuckDB (validation/pushdown.py). At
# 1M taxpayers, copying a staged table into pandas for GX cost more than loading it.
GX_SAMPLE_ROWS = 20_000


def validate_staged(con: duckdb.DuckDBPyConnection, table: str) -> SuiteOutcome:
    """The table's suite: in SQL over every row, and through GX on (a sample of) the rows.

    The two engines agree row for row (tests/test_validation_pushdown.py); GX's run is what
    proves the suite means what GX means, the SQL run is what sees every row. A suite the SQL
    translation does not cover is validated by GX on the whole table.
    """
    from fiscal_intel.validation.gx import load_suite_json, validate_frame
    from fiscal_intel.validation.pushdown import Unsupported, validate_table

    suite = load_suite_json(table)
    relation = f"staging.{table}"
    try:
        full = validate_table(con, relation, suite)
    except Unsupported:
        return validate_frame(con.execute(f"select * from {relation}").df(), suite)
    if full.rows <= GX_SAMPLE_ROWS:
        sample = validate_frame(con.execute(f"select * from {relation}").df(), suite)
    else:
        every = -(-full.rows // GX_SAMPLE_ROWS)
        sample = validate_frame(
            con.execute(f"select * from {relation} as t where hash(t) % {every} = 0").df(), suite
        )
    if full.success and not sample.success:
        # Cannot happen while the engines agree; if it does, GX's verdict stands.
        return SuiteOutcome(
            sample.suite, False, full.rows, sample.outcomes, note=f"GX on {sample.rows} rows"
        )
    return full


Evaluate = Callable[[DuckDBResource, FiscalSettings], dg.AssetCheckResult]


@dataclass(frozen=True)
class Check:
    """One asset check: what Dagster shows of it (key, description, blocking) and how it is
    evaluated (``evaluate``: its result, without key: :func:`grouped` adds it). ``reads``:
    other tables it reads, so it runs after they are rebuilt (not on last run's copy, or on
    nothing in a fresh warehouse)."""

    asset: tuple[str, str]
    name: str
    description: str
    evaluate: Evaluate
    blocking: bool = True
    reads: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> dg.AssetCheckKey:
        return dg.AssetCheckKey(dg.AssetKey(list(self.asset)), self.name)

    def spec(self) -> dg.AssetCheckSpec:
        return dg.AssetCheckSpec(
            self.name,
            asset=dg.AssetKey(list(self.asset)),
            description=self.description,
            blocking=self.blocking,
            additional_deps=[dg.AssetKey(list(r)) for r in self.reads],
        )


def grouped(name: str, checks: list[Check]) -> dg.AssetChecksDefinition:
    """``checks`` as one Dagster step named ``name``: each check evaluated in turn (those the run
    selected: a run may select some of them) and reported under its own key. A blocking check
    that fails fails the step once every check of it has reported, so what reads its asset
    does not run, as with a step per check."""
    @dg.multi_asset_check(
        name=name, specs=[c.spec() for c in checks], can_subset=True, compute_kind="duckdb"
    )
    def _checks(
        context: dg.AssetCheckExecutionContext, warehouse: DuckDBResource, settings: FiscalSettings
    ) -> Iterator[dg.AssetCheckResult]:
        yield from _evaluated(checks, context.selected_asset_check_keys, warehouse, settings)

    return _checks


def _evaluated(
    checks: list[Check],
    selected: Collection[dg.AssetCheckKey],
    warehouse: DuckDBResource,
    settings: FiscalSettings,
) -> Iterator[dg.AssetCheckResult]:
    """The result of each of ``checks`` the run ``selected``, in turn, under its own key."""
    for check in checks:
        if check.key in selected:
            result = check.evaluate(warehouse, settings)
            yield dg.AssetCheckResult(
                passed=result.passed,
                asset_key=check.key.asset_key,
                check_name=check.key.name,
                metadata=result.metadata,
                severity=result.severity,
                description=result.description,
            )


def gx_check(table: str) -> Check:
    def evaluate(warehouse: DuckDBResource, settings: FiscalSettings) -> dg.AssetCheckResult:
        with warehouse.get_connection() as con:
            outcome = validate_staged(con, table)
        return dg.AssetCheckResult(
            passed=outcome.success,
            severity=dg.AssetCheckSeverity.ERROR,
            description=outcome.summary(),
            metadata={
                "rows": dg.MetadataValue.int(outcome.rows),
                "failed": dg.MetadataValue.json(
                    [
                        {
                            "expectation": f.expectation,
                            "column": f.column,
                            "unexpected": f.unexpected_count,
                            "sample": f.sample,
                        }
                        for f in outcome.failures
                    ]
                ),
            },
        )

    return Check(
        ("staging", table),
        "expectations",
        f"The Great Expectations suite expectations/{table}.json.",
        evaluate,
    )


def run_check_sql(
    warehouse: DuckDBResource, name: str, /, **params: object
) -> tuple[bool, float, str]:
    """Run ``sql/checks/<name>.sql``: one row of (passed, observed, detail)."""
    with warehouse.get_connection() as con:
        passed, observed, detail = run_sql(con, f"checks/{name}", **params).fetchall()[0]
    return bool(passed), float(observed), str(detail)


def sql_check(
    asset: tuple[str, str],
    name: str,
    description: str,
    *,
    sql: str | None = None,
    blocking: bool = True,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
    reads: tuple[tuple[str, str], ...] = (),
    **fixed: object,
) -> Check:
    """An asset check backed by ``sql/checks/<sql or name>.sql``; ``reads``: other tables its
    SQL reads (:class:`Check`)."""
    sql_name = sql or name

    def evaluate(warehouse: DuckDBResource, settings: FiscalSettings) -> dg.AssetCheckResult:
        passed, observed, detail = run_check_sql(
            warehouse, sql_name, **settings.sql_params(), **fixed
        )
        return dg.AssetCheckResult(
            passed=passed,
            severity=severity,
            description=detail,
            metadata={"observed": dg.MetadataValue.float(observed)},
        )

    return Check(asset, name, description, evaluate, blocking, reads)


# How far (days) each source's latest event may trail the latest event anywhere in the data
# before its freshness check warns: payments arrive daily, withholdings per bimester plus the
# reporting delay, registries and returns yearly.
EXPECTED_LAG_DAYS = {
    "taxpayers": 400,
    "declarations": 400,
    "payments": 60,
    "withholdings": 150,
    "commerce_registry": 400,
    "audits": 400,
}

freshness_checks = [
    sql_check(
        ("raw", source),
        "freshness",
        f"Warns when {source} trails the rest of the data by more than {days} days.",
        sql="source_freshness",
        reads=tuple(("raw", other) for other in EXPECTED_LAG_DAYS if other != source),
        blocking=False,
        severity=dg.AssetCheckSeverity.WARN,
        source=source,
        max_lag_days=days,
    )
    for source, days in EXPECTED_LAG_DAYS.items()
]

partition_checks = [
    sql_check(
        ("raw", source),
        "tax_years_in_partitions",
        "Every tax year in the raw table falls within the tax-year partitions.",
        sql="tax_years_in_partitions",
        raw_table=f"raw.{source}",
    )
    for source in ("declarations", "payments", "withholdings")
]

def quarantine_share_check(source: str) -> Check:
    """Blocking: no file of ``source`` still in landing may have more than the
    ``max_quarantine_share`` setting of its rows quarantined. A source mostly quarantined stops
    the publication like an unreadable file; with ``continue_past_unreadable`` the check only
    warns and the CLI exits non-zero at the end naming the file."""

    def evaluate(warehouse: DuckDBResource, settings: FiscalSettings) -> dg.AssetCheckResult:
        from fiscal_intel.ingest.loader import landing_files

        files = [p.name for p in landing_files(settings.landing_path / source)] or [""]
        passed, observed, detail = run_check_sql(
            warehouse,
            "quarantine_share",
            source=source,
            files=files,
            max_quarantine_share=settings.max_quarantine_share,
        )
        severity = dg.AssetCheckSeverity.ERROR
        if not passed and settings.continue_past_unreadable:
            severity = dg.AssetCheckSeverity.WARN
        return dg.AssetCheckResult(
            passed=passed,
            severity=severity,
            description=f"{source}/{detail}" if not passed else detail,
            metadata={"observed": dg.MetadataValue.float(observed)},
        )

    return Check(
        ("raw", source),
        "quarantine_share",
        f"No file in landing/{source}/ has more than max_quarantine_share (default 20 %) of "
        "its rows quarantined; the message names the file, the share and the top reasons.",
        evaluate,
    )


# Sources whose `nit` column may carry a DV glued on (warning check, see nit_dv_suffix.sql).
_NIT_SOURCES = [s.name for s in SOURCES.values() if any(c.name == "nit" for c in s.columns)]

real_export_checks = (
    [quarantine_share_check(s) for s in SOURCES]
    + [
        sql_check(
            ("raw", s),
            "nit_dv_suffix",
            "Warns when 10-digit NITs end in their own check digit far more often than chance "
            "(1 in 11): the export glues the DV on; see [nit] dv_suffix in the mapping.",
            sql="nit_dv_suffix",
            blocking=False,
            severity=dg.AssetCheckSeverity.WARN,
            source=s,
            raw_table=f"raw.{s}",
        )
        for s in _NIT_SOURCES
    ]
    + [
        sql_check(
            ("staging", "stg_commerce_registry"),
            "unit_mismatch",
            "Warns when the same NITs' figures across sources (registry assets and withholding "
            "bases against declared income, payments against declared tax) differ by a factor "
            "of 100 or more, such as an export in thousands of pesos: see [units] in mappings.",
            sql="unit_mismatch",
            reads=(
                ("staging", "stg_declarations"),
                ("staging", "stg_withholdings"),
                ("staging", "stg_payments"),
            ),
            blocking=False,
            severity=dg.AssetCheckSeverity.WARN,
            min_nits=10,
        )
    ]
)


LISTS_CHECK = "lists_not_collapsed"


def audit_lists_outcome(
    con: duckdb.DuckDBPyConnection, min_list_share: float
) -> tuple[bool, float, str]:
    """Judge the audit lists against the last run that passed (sql/checks/
    audit_lists_not_collapsed.sql); when they pass, record their sizes as the next reference."""
    from fiscal_intel.assets.scoring import PROGRAMS

    run_sql(con, "ops/audit_list_sizes")
    comment_sql_table(con, "ops/audit_list_sizes")
    passed, observed, detail = run_sql(
        con,
        "checks/audit_lists_not_collapsed",
        min_list_share=min_list_share,
        programs=list(PROGRAMS),
    ).fetchall()[0]
    if passed:
        con.execute(
            "insert into ops.audit_list_sizes "
            "select coalesce((select max(seq) from ops.audit_list_sizes), 0) + 1, "
            "(select as_of from staging.as_of_date), p.program, count(r.program) "
            "from unnest($programs) as p (program) "
            "left join marts.audit_ranking as r on r.program = p.program group by p.program",
            {"programs": list(PROGRAMS)},
        )
    return bool(passed), float(observed), str(detail)


def _lists_outcome(warehouse: DuckDBResource, settings: FiscalSettings) -> dg.AssetCheckResult:
    with warehouse.get_connection() as con:
        passed, observed, detail = audit_lists_outcome(con, settings.min_list_share)
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=detail,
        metadata={"observed": dg.MetadataValue.float(observed)},
    )


# Also reads staging.as_of_date, upstream of audit_ranking (tests/test_checks_in_step.py).
lists_not_collapsed = Check(
    ("marts", "audit_ranking"),
    LISTS_CHECK,
    "Each program's audit list is not empty and holds at least min_list_share of the cases of "
    "the last run that passed this check.",
    _lists_outcome,
)


checks = (
    [gx_check(t) for t in STAGED_TABLES]
    + [
        sql_check(
            ("raw", s),
            "load_accounting",
            "Rows read = rows loaded + rows quarantined for every file, and the tables agree.",
            sql="load_accounting",
            source=s,
            raw_table=f"raw.{s}",
        )
        for s in SOURCES
    ]
    + [
        sql_check(
            ("staging", "stg_declarations"),
            "one_current_return",
            "After corrections, exactly one current return per NIT and tax year.",
            sql="declarations_one_current_return",
        ),
        sql_check(
            ("staging", "stg_declarations"),
            "filer_known",
            "Returns filed by NITs in no registry stay below max_unknown_filer_share.",
            sql="declarations_filer_known",
            reads=(("staging", "stg_taxpayers"), ("staging", "stg_commerce_registry")),
        ),
        sql_check(
            ("staging", "stg_declarations"),
            "arithmetic",
            "The return's lines add up (taxable income and total tax), allowing 1 % exceptions.",
            sql="declarations_arithmetic",
        ),
    ]
    + freshness_checks
    + partition_checks
    + real_export_checks
    + [lists_not_collapsed]
)


def in_asset_step(check: Check) -> bool:
    """Whether ``check`` runs in its asset's step: it reads its asset only. A check that reads
    other tables (the freshness checks read every raw table; ``filer_known``, ``unit_mismatch``
    other staged tables) keeps a step of its own, after every table it reads is rebuilt."""
    return not check.reads


def _step_name(check: Check) -> str:
    """The step of a check that reads other tables: one for the freshness checks, which all
    read every raw table (``raw_freshness``); a step of its own for a check that reads other
    staged tables (``staging__stg_declarations_filer_known``): grouped, two such checks would
    wait for each other (Dagster refuses the cycle)."""
    if check.name == "freshness":
        return "raw_freshness"
    return f"{'__'.join(check.asset)}_{check.name}"


def _grouped_checks() -> list[dg.AssetChecksDefinition]:
    steps: dict[str, list[Check]] = {}
    for check in checks:
        if not in_asset_step(check):
            steps.setdefault(_step_name(check), []).append(check)
    return [grouped(name, members) for name, members in steps.items()]


def with_checks(assets: Sequence[Any]) -> list[Any]:
    """``assets``, each asset that has checks reading only it (:func:`in_asset_step`) rebuilt
    with them as its ``check_specs`` and evaluated in its step, after its table is built.

    Same check keys, descriptions, blocking flags, severities and results as a step of their
    own, and the same place under the asset in the UI; Dagster fails the step when a blocking
    check fails with ERROR severity (after every check of it has reported), so what reads the
    asset does not run, as before. A step per check costs Dagster a step's events and
    bookkeeping (benchmarks/department_cost.md: 76 steps a run before, 59 now)."""
    own: dict[dg.AssetKey, list[Check]] = {}
    for check in checks:
        if in_asset_step(check):
            own.setdefault(check.key.asset_key, []).append(check)
    return [
        _checked(d, own[d.key])
        if isinstance(d, dg.AssetsDefinition) and len(d.keys) == 1 and d.key in own
        else d
        for d in assets
    ]


def _checked(asset: dg.AssetsDefinition, own: list[Check]) -> dg.AssetsDefinition:
    """``asset`` (one asset, its function taking the context and its resources by name) with
    ``own`` checks evaluated in its step. Subsettable: a run may select the asset without its
    checks (``fiscal-intel evaluate``) or a check without the asset (the UI's "execute check"):
    only what is selected runs."""
    fn = asset.op.compute_fn.decorated_fn
    resources = [p for p in inspect.signature(fn).parameters if p != "context"]
    spec = next(iter(asset.specs))

    @dg.multi_asset(
        name=asset.op.name,
        specs=[spec],
        check_specs=[c.spec() for c in own],
        can_subset=True,
        backfill_policy=asset.backfill_policy,
        required_resource_keys=set(resources),
        op_tags=asset.op.tags or None,
    )
    def _asset(context: dg.AssetExecutionContext) -> Iterator[object]:
        values = {name: getattr(context.resources, name) for name in resources}
        if context.selected_asset_keys:
            yield fn(context, **values)
        yield from _evaluated(
            own, context.selected_asset_check_keys, values["warehouse"], values["settings"]
        )

    return _asset


asset_checks = _grouped_checks()
