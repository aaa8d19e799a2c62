"""The code location loads, and its asset keys are a visible snapshot: renaming one is a change."""

from __future__ import annotations

import dagster as dg

from fiscal_intel.definitions import defs

EXPECTED_ASSETS = {
    *(f"landing/{s}" for s in ("taxpayers", "declarations", "payments", "withholdings",
                               "commerce_registry", "audits", "ciiu_rates")),
    *(f"raw/{s}" for s in ("taxpayers", "declarations", "payments", "withholdings",
                           "commerce_registry", "audits", "ciiu_rates")),
    "ref/ciiu_classes",
    "ref/ciiu_rates_default",
    "ref/cpi_deflator",
    "ref/cpi_by_year",
    *(f"staging/stg_{s}" for s in ("taxpayers", "declarations", "payments", "withholdings",
                                   "commerce_registry", "audits", "ciiu_rates", "entities")),
    "staging/as_of_date",
    "staging/stg_registry_matches",
    "staging/unknown_ciiu",
    "marts/registry_match_rates",
    "features/omiso_features",
    "features/inexacto_features",
    *(f"features/{t}" for t in ("registry_profile", "known_returns", "third_party_income")),
    "scoring/risk_models",
    "scoring/omiso_scores",
    "scoring/inexacto_scores",
    "scoring/backtest",
    "evaluation/truth",
    *(f"marts/{m}" for m in ("model_performance", "model_card", "audit_burden")),
    "marts/audit_ranking",
    "marts/cases_in_progress",
    "marts/revenue_monthly",
    "marts/revenue_yearly",
    *(f"marts/{m}" for m in ("compliance_yearly", "arrears", "audit_yield", "tax_gap",
                             "revenue_forecast", "revenue_forecast_monthly")),
    "exports/leadership_warehouse",
    "exports/leadership_report",
    # actions and campaigns (fiscal_intel.actions)
    "landing/actions",
    "raw/actions",
    "staging/stg_actions",
    "ops/campaigns",
    "ops/campaign_assignments",
    "marts/campaign_outcomes",
    "marts/campaign_effects",
    "marts/campaign_segments",
    "marts/calibration",
    "scoring/case_actions",
}


def test_definitions_load_with_expected_assets() -> None:
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == EXPECTED_ASSETS


def test_every_staged_table_has_a_blocking_gx_check() -> None:
    graph = defs.resolve_asset_graph()
    checks = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    for table in ("taxpayers", "declarations", "payments", "withholdings", "commerce_registry",
                  "audits", "ciiu_rates", "actions"):
        assert (f"staging/stg_{table}", "expectations") in checks
    assert ("staging/stg_declarations", "one_current_return") in checks
    assert ("staging/stg_declarations", "filer_known") in checks
    from fiscal_intel.assets.checks import asset_checks
    from fiscal_intel.definitions import all_assets

    # A check that reads only its asset is in that asset's step (its check_specs), the others
    # in steps of their own; every check once, under its asset.
    specs = [
        spec
        for d in [*all_assets, *asset_checks]
        if isinstance(d, dg.AssetsDefinition)
        for spec in d.check_specs
    ]
    assert len(specs) == len(graph.asset_check_keys) == len({s.key for s in specs})
    for d in all_assets:
        if isinstance(d, dg.AssetsDefinition):
            assert all(s.asset_key in d.keys for s in d.check_specs)
    # Ingestion gates block; freshness only warns (stale data is still the best data we have).
    warnings = {"freshness", "nit_dv_suffix", "unit_mismatch"}  # warn, never block
    assert all(spec.blocking == (spec.name not in warnings) for spec in specs)
    assert ("raw/payments", "quarantine_share") in checks


def test_the_job_runs_in_process() -> None:
    job = defs.resolve_job_def("fiscal_intel_all")
    assert job.executor_def is dg.in_process_executor
