"""What finance leadership reads: aggregate marts under tax secrecy, a shareable DuckDB file with
only those marts, and a self-contained HTML report built from them."""

from __future__ import annotations

# The leadership marts, in the order the report presents them. Every one is an aggregate: no
# NIT, name or case id, and no figure built from fewer than `min_cell_taxpayers` taxpayers.
LEADERSHIP_MARTS: tuple[str, ...] = (
    "revenue_monthly",
    "revenue_yearly",
    "compliance_yearly",
    "arrears",
    "audit_yield",
    "tax_gap",
    "revenue_forecast",
    "revenue_forecast_monthly",
)

# For each mart, the figures built from taxpayers and the column counting those taxpayers
# (a count column guards itself). The secrecy test reads this: wherever a figure is shown, its
# count must be 0 or at least the threshold.
SECRECY: dict[str, dict[str, str]] = {
    "revenue_monthly": {"collected": "payers", "payers": "payers"},
    "revenue_yearly": {
        "declared_tax": "filers",
        "balance_due": "filers",
        "filers": "filers",
        "collected": "payers",
        "payers": "payers",
    },
    "compliance_yearly": {
        "obliged": "obliged",
        "filers": "filers",
        "declared_tax": "filers",
        "on_time": "on_time",
        "late": "late",
        "non_filers": "non_filers",
        "non_filers_seen": "non_filers_seen",
        "non_filer_income_seen": "non_filers_seen",
        "non_filer_tax_estimate": "random_omiso_audits",
    },
    "arrears": {"outstanding": "debtors", "balance_due": "debtors", "debtors": "debtors"},
    "audit_yield": {
        "cases_closed": "cases_closed",
        "random_cases": "random_cases",
        "adjusted_cases": "adjusted_cases",
        "assessed": "adjusted_cases",
        "enforcement_collected": "enforcement_payers",
    },
    "tax_gap": {"estimate": "sample_adjusted", "sample_cases": "sample_cases"},
    "revenue_forecast": {"actual": "payers"},
    # Forecasts only, from the same series as revenue_forecast (hidden with it): no actual.
    "revenue_forecast_monthly": {},
}

# Columns that would identify a taxpayer or a case: none may appear in a leadership mart.
IDENTIFYING_COLUMNS: frozenset[str] = frozenset(
    {"nit", "dv", "legal_name", "name", "matricula", "case_id", "declaration_id", "payment_id",
     "agent_nit", "source_file", "source_row"}
)  # fmt: skip
