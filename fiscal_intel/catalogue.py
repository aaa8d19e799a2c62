# ruff: noqa: E501 - a catalogue reads best one entry a line
"""What each warehouse column means: the one catalogue of texts behind the Dagster column
schemas, the ``COMMENT ON COLUMN`` of the warehouse and of the shareable leadership file, and the
mart reference (``docs/mart_reference.md``, generated from here: ``python -m fiscal_intel.catalogue``).

A column's text is looked up in its table's entry (``COLUMNS["marts.tax_gap"]["estimate"]``),
then in ``COMMON`` (names that mean the same in every table: ``nit``, ``tax_year``...), then,
for the feature and score tables, in the feature catalogue the case file uses
(``fiscal_intel.feature_labels``, Spanish: inspectors read those tables). Every mart column must
have a text (a test fails otherwise); other schemas are described where a text exists.

Language: English, the warehouse's language for its data engineers; leadership reads the marts
through the report and the shareable file, whose tables keep these texts with the Spanish table
titles of ``LEADERSHIP_TITLES_ES``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from duckdb import CatalogException, DuckDBPyConnection

from fiscal_intel.feature_labels import LABELS

# Names that mean the same wherever they appear.
COMMON: dict[str, str] = {
    "nit": "taxpayer's NIT, canonical (digits only, no check digit)",
    "dv": "NIT check digit (dígito de verificación)",
    "legal_name": "taxpayer's legal name (razón social) or full name",
    "tax_year": "tax year (año gravable) the row belongs to",
    "program": "audit program: omiso (did not file) or inexacto (under-reported)",
    "ciiu": "CIIU Rev.4 A.C. activity class (4 digits)",
    "ciiu_section": "CIIU section letter of the taxpayer's main activity (RIT, else local chamber registration, else latest return); NULL when unknown; '*' for a pool of small cells",
    "comuna": "comuna (district) of the taxpayer in the RIT; NULL when not in it; '*' for a pool of small comunas",
    "size_band": "size by registered assets in minimum wages: micro, small, medium, large; unknown without a chamber entry",
    "statute_expires_on": "last day the case can be assessed (3 years from the filing deadline, or from the filing when late, for a return; 5 years for a non-filer)",
    "model_version": "version of the risk model that scored the row",
    "risk_score": "probability that an audit finds tax due",
    "predicted_amount": "COP assessed if the audit finds tax (the amount model)",
    "expected_recovery": "COP: risk_score × predicted_amount",
    "reasons": "why the case ranks where it does, in Spanish",
    "reason_codes": "the reasons as data (JSON list of families and phrases), rendered by fiscal_intel.scoring.reason_texts.render",
    "pooled_cells": "0 for a cell shown on its own, else how many small cells the pool row holds (tax secrecy)",
    "declared_tax": "total tax declared on current returns (COP)",
    "balance_due": "declared amount to pay (COP)",
    "collected": "ICA received (COP)",
    "filers": "taxpayers with a current return",
    "payers": "distinct NITs that paid",
    "lower_95": "lower bound of the 95 % interval",
    "upper_95": "upper bound of the 95 % interval",
    "as_of": "the date the run reasons from (the latest dated event in the data unless given)",
    "case_id": "audit case identifier in the tax office's system",
    "selection": "how the case was picked: random (control sample) or staff-picked",
    "opened_on": "date the audit was opened",
    "closed_on": "date the audit was closed (NULL while open)",
    "outcome": "audit result: adjusted (tax assessed) or clean",
    "assessed_amount": "tax assessed by the audit (COP)",
    "declaration_id": "return identifier in the tax office's system",
    "filed_on": "date the return was filed",
    "first_filed_on": "date the first return of that NIT and year was filed",
    "filings": "returns filed for that NIT and year (1 = no correction)",
    "gross_income": "gross income declared (COP)",
    "income_outside": "income declared as earned outside the municipality (COP)",
    "deductions": "returns, rebates, exempt and excluded income declared (COP)",
    "taxable_income": "taxable income declared (COP)",
    "rate_per_mil": "ICA rate, per mil",
    "ica_tax": "ICA declared (COP)",
    "avisos_tableros": "avisos y tableros surcharge declared (15 % of the ICA, COP)",
    "sobretasa_bomberil": "fire-service surcharge declared (COP)",
    "total_tax": "total tax declared (COP)",
    "withholdings_credited": "reteICA credited on the return (COP)",
    "penalties": "penalties declared (COP)",
    "payment_id": "payment receipt identifier",
    "paid_on": "date of payment",
    "amount": "amount paid (COP)",
    "agent_nit": "NIT of the reteICA withholding agent",
    "period": "bimester of the withholding (1-6)",
    "base_amount": "payments the agent reported as the withholding base (COP)",
    "withheld_amount": "reteICA withheld (COP)",
    "matricula": "chamber of commerce registration number",
    "taxpayer_type": "natural or juridical person",
    "registered_on": "date of registration",
    "status": "status as the source gives it",
    "regime": "tax regime in the RIT",
    "organization_type": "legal form in the chamber registry",
    "ciiu_secondary": "secondary activity class in the chamber registry",
    "municipality_code": "DANE code of the registration's municipality",
    "department": "department of the registration",
    "last_renewal_year": "last year the chamber registration was renewed",
    "cancelled_on": "date the chamber registration was cancelled",
    "total_assets": "registered total assets (COP)",
    "employees": "registered employees",
    "description": "activity description",
    "source_file": "landing file the row came from",
    "source_row": "row number in that file",
    "_file": "landing file the row came from",
    "_sha256": "sha256 of that file",
    "_row_number": "row number in that file",
    "_batch_id": "load batch (ops.load_log.batch_id)",
    "batch_id": "load batch",
    "sha256": "sha256 of the file",
    "file": "landing file name",
    "source": "landing source (taxpayers, declarations, payments, withholdings, commerce_registry, audits, ciiu_rates)",
    "label_adjusted": "label: a closed audit of this case assessed tax",
    "label_amount": "label: tax the closed audit assessed (COP)",
    "audit_selection": "selection of the closed audit behind the label",
    "audit_closed_on": "closing date of the audit behind the label",
    "filing_deadline": "filing deadline of the tax year",
    "is_candidate": "open case the lists may rank",
    "rule_score": "score of the rule baseline",
    "action": "action for the case: field audit, request, demand to file or letter",
    "campaign_id": "campaign identifier (ops.campaigns)",
    "arm": "treatment or control (the random control group)",
    "sent_on": "date the action was sent",
    "window_days": "days after the campaign's first sending the outcome is measured over (30, 90, 180)",
    "cases_sent": "cases of the campaign that were sent the action",
    "action_id": "action identifier in the office's register",
    "channel": "how the action was sent (e.g. letter, email, visit)",
    "expected_net": "expected money of the chosen action minus its cost (COP)",
    "expected_money": "expected money of the chosen action (COP)",
    "late_probability": "omiso: probability the non-filer files late by itself",
}

COLUMNS: dict[str, dict[str, str]] = {
    "marts.audit_ranking": {
        "rank": "1 = inspect first: 1..n within a program by expected recovery, then sooner statute expiry",
        "tax_year": "tax year to audit",
        "comuna": "comuna (district) of the taxpayer in the RIT",
    },
    "marts.cases_in_progress": {
        "case_id": "audit case identifier (taxpayer-level: audit side, not a leadership mart)",
        "days_open": "as-of date − opened_on",
        "statute_expires_on": "last day the case can be assessed (3 years from the filing deadline or late filing for a return, 5 for a non-filer; suspending acts are not in the data)",
        "days_left": "statute_expires_on − as-of date; negative once expired",
    },
    "marts.model_performance": {
        "evaluated_on": "truth_file (open cases against evaluation.truth) or random_audits (random audits opened after the backtest cut-off against what they assessed)",
        "method": "model, rule, or random (its expectation)",
        "k": "list length (10 … 1000, up to the cases there are)",
        "cases": "cases evaluated",
        "cases_with_gap": "cases with a gap > 0",
        "precision_at_k": "share of the top k with a gap > 0",
        "recovery_at_k": "gap in the top k / the most any k cases hold",
        "gap_found": "gap in the top k (COP)",
        "best_possible": "the most any k cases hold (COP)",
    },
    "marts.model_card": {
        "trained_from": "closing date of the first audit learnt from",
        "trained_to": "closing date of the last audit learnt from",
        "training_audits": "closed audits learnt from",
        "training_adjusted": "of them, adjusted",
        "training_random_audits": "of them, random",
        "training_random_adjusted": "random and adjusted",
        "training_hit_rate": "share of training audits adjusted",
        "amount_source": "what the amount model learnt from",
        "amount_rows": "rows the amount model learnt from",
        "late_filing_rows": "earlier years' rows the omiso late-filing part learnt from (0 for inexacto)",
        "backtest_cutoff": "date the backtest model was trained as of",
        "held_out_audits": "audits opened after the cut-off",
        "held_out_adjusted": "of them, adjusted",
        "random_audits": "random audits opened after the cut-off",
        "random_adjusted": "of them, adjusted",
        "random_predicted_hit_rate": "mean risk score of the random held-out audits",
        "random_realised_hit_rate": "share of them adjusted",
        "random_auc": "AUC of the risk score on them",
        "random_predicted_yield": "sum of their expected recovery (COP)",
        "random_realised_yield": "sum they assessed (COP)",
        "random_realised_to_predicted": "random_realised_yield / random_predicted_yield",
        "held_out_predicted_yield": "expected recovery of all held-out audits, staff-picked included (COP)",
        "held_out_realised_yield": "what all held-out audits assessed (COP)",
        "top_features": "share of split gain, top 10 (JSON)",
    },
    "marts.audit_burden": {
        "dimension": "size_band, ciiu_section or comuna",
        "group": "value of the dimension; groups of fewer than min_cell_taxpayers taxpayers pooled as (other)",
        "open_cases": "open cases in the group",
        "taxpayers": "distinct taxpayers in the group",
        "selected": "cases in the top audit_capacity",
        "selection_rate": "selected / open_cases",
        "expected_precision": "mean risk score of the selected",
        "expected_yield": "expected recovery of the selected (COP)",
        "expected_recovery_open": "expected recovery of all open cases (COP)",
        "past_audits": "closed audits in the group",
        "past_hit_rate": "share of them adjusted",
        "past_assessed": "tax they assessed (COP)",
    },
    "marts.registry_match_rates": {
        "scope": "local, elsewhere or all registrations",
        "registrations": "chamber registrations",
        "with_nit": "exported with a NIT",
        "without_nit": "exported without a NIT",
        "matched": "without NIT, matched by name to one NIT",
        "ambiguous": "without NIT, name shared by several NITs",
        "unmatched": "without NIT, no NIT found",
        "match_rate": "matched / without_nit",
        "nit_coverage": "(with_nit + matched) / registrations",
    },
    "marts.revenue_monthly": {
        "month": "first day of the month of payment; NULL pools whole months paid by too few taxpayers",
        "collected": "ICA received in the month (COP)",
    },
    "marts.revenue_yearly": {
        "collected": "payments applied to that tax year, whenever paid (COP)",
        "collection_rate": "collected / balance_due",
        "declared_growth": "growth of declared_tax on the same cell the year before; NULL when either is a pool",
        "declared_growth_real": "declared_growth deflated by the tax year's Dec-on-Dec CPI inflation: (1 + nominal) / (1 + inflation) − 1",
        "collected_growth": "growth of collected on the same cell the year before; NULL when either is a pool",
        "collected_growth_real": "collected_growth deflated likewise; NULL beyond the CPI table",
    },
    "marts.compliance_yearly": {
        "tax_year": "tax year whose filing deadline has passed",
        "obliged": "taxpayers obliged to file: RIT-registered and active, open local chamber registration, paid by reteICA agents, or filed",
        "filers": "obliged taxpayers who filed",
        "on_time": "first filed by the deadline",
        "late": "first filed after the deadline",
        "non_filers": "obliged taxpayers who did not file",
        "non_filers_seen": "non-filers with reteICA evidence",
        "non_filer_income_seen": "income reteICA agents saw for them (COP)",
        "filing_rate": "filers / obliged",
        "on_time_rate": "on_time / filers",
        "random_omiso_audits": "random omiso audits behind the estimate",
        "non_filer_tax_estimate": "non-filers × mean assessed per random omiso audit (pooled over years in constant pesos, in the year's pesos)",
    },
    "marts.arrears": {
        "age_bucket": "years since the balance fell due (deadline, or filing date when late): 0-1, 1-2, 2-3, 3-5, 5+; '*' pools whole buckets",
        "age_order": "sort order of age_bucket",
        "debtors": "taxpayers with an outstanding balance",
        "returns": "returns with an outstanding balance",
        "outstanding": "balance due minus payments applied to that taxpayer and year by the as-of date, when positive (COP)",
        "balance_due": "declared amount to pay on those returns (COP)",
        "unpaid_share": "outstanding / balance_due",
        "likely_prescribed": "5 years or more since due (ET art. 817)",
    },
    "marts.audit_yield": {
        "year": "calendar year the audits closed",
        "program": "omiso, inexacto, or total",
        "cases_closed": "audits closed that year",
        "random_cases": "of them, random",
        "adjusted_cases": "of them, adjusted",
        "hit_rate": "adjusted_cases / cases_closed",
        "assessed": "tax assessed by the audits closed that year (COP)",
        "assessed_per_adjusted_case": "assessed / adjusted_cases (COP)",
        "enforcement_collected": "payments that year for a taxpayer and tax year already under audit (COP)",
        "enforcement_payers": "taxpayers behind enforcement_collected",
        "collected": "total rows: all ICA paid that year (COP)",
        "organic_collected": "total rows: collected − enforcement (COP)",
        "enforcement_in_organic": "total rows: enforcement had to stay hidden inside organic (tax secrecy)",
        "collected_growth": "total rows: growth of collected on the year before",
        "organic_growth": "total rows: growth of organic_collected",
        "organic_growth_real": "total rows: organic_growth deflated by CPI (complete years only)",
        "complete_year": "total rows: the year has ended by the as-of date",
    },
    "marts.tax_gap": {
        "program": "inexacto, omiso, or total",
        "method": "mean_per_case (mean assessed per random audit × the population of cases) or ratio_to_declared (inexacto: assessed per peso declared × tax declared)",
        "first_year": "first tax year the random audits cover",
        "last_year": "last tax year the random audits cover",
        "sample_cases": "random audits in the sample",
        "sample_adjusted": "of them, adjusted",
        "population_cases": "cases in the population (current returns for inexacto, non-filers for omiso)",
        "estimate": "estimated gap over the covered years (COP)",
        "lower_95": "lower bound, 95 % (Student's t, finite-population correction, floored at 0)",
        "mean_gap_per_case": "estimate / population_cases (COP)",
        "annual_gap": "estimate per covered year (COP)",
        "declared_tax": "tax declared on the covered years (COP)",
        "gap_share": "estimate / (declared_tax + estimate)",
    },
    "marts.revenue_forecast": {
        "target_year": "calendar year of collection",
        "kind": "actual, forecast (from the last complete month), or backtest (from past origins)",
        "method": "model or naive (last year × its growth)",
        "origin": "last day of the last month used",
        "horizon_months": "months from the origin to the end of the target year",
        "forecast": "forecast collection of the target year (COP)",
        "lower_95": "lower bound of the 95 % interval (model only)",
        "upper_95": "upper bound of the 95 % interval (model only)",
        "actual": "collection of the target year (COP)",
        "actual_real": "actual in constant pesos of the last CPI year",
        "error_pct": "forecast / actual − 1",
        "collected_to_date": "collected in the target year by the origin (COP)",
        "growth_obs": "years of growth behind the model",
        "inflation_assumed": "inflation assumed for the target year, percent",
    },
    "marts.revenue_forecast_monthly": {
        "month": "first day of the forecast month",
        "origin": "last day of the last complete month",
        "horizon_months": "1-12",
        "forecast": "forecast collection of the month (COP)",
        "lower_80": "lower bound of the 80 % interval (NULL without 12 past errors)",
        "upper_80": "upper bound of the 80 % interval (NULL without 12 past errors)",
        "lower_95": "lower bound of the 95 % interval (NULL without 12 past errors)",
        "upper_95": "upper bound of the 95 % interval (NULL without 12 past errors)",
        "year_forecast": "the model's forecast of the month's year, as in revenue_forecast (COP)",
        "year_collected_to_date": "collected in the month's year by the origin; plus its months' forecast it equals year_forecast (COP)",
    },
    "ops.run_log": {
        "run_id": "run identifier (the CLI's, or Dagster's for a run launched by the UI or daemon)",
        "started_at": "when the run started",
        "finished_at": "when the run ended",
        "status": "success, incomplete (unreadable files skipped) or failed",
        "failed_stage": "stage that failed",
        "message": "why the run failed or was incomplete",
        "landing": "landing folder the run read",
        "as_of": "as-of date of the run",
        "files_loaded": "files loaded by the run",
        "files_failed": "files that could not be read",
        "rows_loaded": "rows loaded by the run",
        "rows_quarantined": "rows quarantined by the run",
        "checks_passed": "asset checks that passed",
        "checks_failed": "asset checks that failed, with why",
        "model_versions": "versions of the models that scored (JSON)",
        "table_rows": "rows per table at the end of the run (JSON)",
    },
    "ops.audit_list_sizes": {
        "seq": "entry number, increasing",
        "as_of": "as-of date of the run whose lists passed the check",
        "cases": "cases on the list",
    },
    "ops.load_log": {
        "rows_read": "rows read from the file",
        "rows_loaded": "rows loaded into raw",
        "rows_quarantined": "rows sent to ops.quarantine",
        "loaded_at": "when the load ran",
        "status": "loaded, duplicate or failed",
        "message": "why a load failed",
        "format": "how the file was read: encoding, delimiter, sheet",
    },
    "ops.quarantine": {
        "row_number": "row number in the file",
        "reason": "why the row was rejected",
        "raw": "the row as read",
    },
    "staging.stg_ciiu_rates": {"rate_source": "municipal (the office's tariff file) or default (shipped tariff)"},
    "staging.stg_commerce_registry": {
        "nit_source": "export (the registry gave it), name_match (found by name), or NULL",
        "is_local": "registration in this municipality",
    },
    "staging.stg_entities": {
        "in_rit": "registered in the RIT (the municipal taxpayer register)",
        "rit_status": "status in the RIT",
        "in_rues_local": "has a local chamber registration",
    },
    "staging.stg_registry_matches": {
        "name_key": "normalised legal name used to match",
        "is_local": "registration in this municipality",
        "matched_nit": "the NIT found, when exactly one",
        "candidates": "NITs sharing the name key",
        "outcome": "matched, ambiguous or unmatched",
    },
    "staging.unknown_ciiu": {
        "source_column": "column that held the code",
        "status": "translated (2012 edition code read as its successor) or unknown",
        "translated_to": "the current code it was read as",
        "rows": "rows with that code",
        "example_nits": "a few NITs with that code",
    },
    "ref.ciiu_classes": {
        "section_name": "CIIU section name",
        "division": "CIIU division (2 digits)",
        "division_name": "CIIU division name",
        "ciiu_group": "CIIU group (3 digits)",
        "group_name": "CIIU group name",
        "class_name": "CIIU class name",
        "edition": "current, or 2012 for a code read as its successor",
        "current_ciiu": "the current class a 2012 code is read as",
    },
    "scoring.risk_models": {
        "train_rows": "closed audits the classifier learnt from",
        "positives": "of them, adjusted",
        "random_rows": "of them, random",
        "random_positives": "random and adjusted",
        "trained_from": "closing date of the first audit learnt from",
        "trained_to": "closing date of the last audit learnt from",
        "amount_rows": "rows the amount model learnt from",
        "amount_source": "what the amount model learnt from",
        "base_rate": "share of training audits adjusted",
        "median_amount": "median assessed amount of the adjusted audits (COP)",
        "features": "features of the model, in order (JSON)",
        "importance": "share of split gain per feature (JSON)",
        "classifier": "the LightGBM classifier, serialised",
        "amount_model": "the amount model, serialised",
        "amount_spec": "how the amount model was trained (JSON)",
        "median_log_amount": "fallback log amount when the amount model cannot predict",
        "params": "training parameters (JSON)",
        "late_filing_classifier": "omiso: the late-filing part, serialised (NULL for inexacto)",
        "late_filing_rows": "rows the late-filing part learnt from",
    },
    "scoring.backtest": {
        "cutoff": "date the backtest model was trained as of",
        "adjusted": "the audit assessed tax",
        "rank_then": "the case's order on the cut-off's list",
    },
    "features.registry_profile": {
        "local_registrations": "chamber registrations of the NIT in this municipality",
        "active": "a local registration is active on the as-of date",
        "assets_smmlv": "registered assets in monthly minimum wages (size_band's measure)",
    },
    "features.third_party_income": {
        "agents": "reteICA agents that reported the NIT that year",
        "periods": "bimesters with a report",
    },
    "marts.calibration": {
        "decile": "decile of expected recovery (NULL: the program's total)",
        "sample": "held_out (all audits opened after the backtest cut-off) or random (the randomly selected ones)",
        "audits": "audits in the cell",
        "predicted": "yield predicted for them (sum of expected recovery, COP)",
        "realized": "what they realised (sum assessed, COP)",
        "predicted_over_realized": "predicted / realized",
        "correction_factor": "realized / predicted over all held-out audits of the program",
        "correction_applied": "the factor is applied to the action choice's expected money (30 held-out audits or more and off by more than 10 %)",
        "predicted_corrected": "predicted corrected out of sample (each audit by the factor fitted on the other four fifths of the audits, COP)",
        "corrected_over_realized": "predicted_corrected / realized",
        "factor_low": "correction_factor minus 1.645 standard errors (delta method): the low end of its 90 % sampling interval",
        "factor_high": "correction_factor plus 1.645 standard errors: the high end of its 90 % sampling interval",
    },
    "marts.campaign_effects": {
        "treatment_cases": "cases drawn into the treatment arm",
        "control_cases": "cases drawn into the control arm",
        "filing_rate_treatment": "share of treatment cases that filed in the window",
        "filing_rate_control": "share of control cases that filed in the window",
        "filing_rate_diff": "treatment − control filing rate (intention to treat)",
        "filing_rate_diff_low": "lower bound of its 95 % interval",
        "filing_rate_diff_high": "upper bound of its 95 % interval",
        "payment_rate_treatment": "share of treatment cases that paid in the window",
        "payment_rate_control": "share of control cases that paid in the window",
        "payment_rate_diff": "treatment − control payment rate",
        "payment_rate_diff_low": "lower bound of its 95 % interval",
        "payment_rate_diff_high": "upper bound of its 95 % interval",
        "money_paid_treatment": "money paid per treatment case in the window (COP)",
        "money_paid_control": "money paid per control case in the window (COP)",
        "money_paid_diff": "treatment − control money paid per case (COP)",
        "money_paid_diff_low": "lower bound of its 95 % interval (COP)",
        "money_paid_diff_high": "upper bound of its 95 % interval (COP)",
        "extra_money": "money_paid_diff × treatment cases (COP)",
        "cost": "cost of the actions sent (COP)",
        "cost_per_peso": "cost / extra_money",
        "window_complete": "the window has ended by the as-of date",
    },
    "marts.campaign_outcomes": {
        "filed": "filed a return for the campaign's year within the window",
        "paid": "paid for that year within the window (COP)",
    },
    "marts.campaign_segments": {
        "seen_by_third_party": "reteICA agents reported paying the case that year",
        "registered": "registered in the RIT",
        "cases": "cases in the segment and arm",
        "filed": "of them, filed within 180 days",
        "paid": "of them, paid within 180 days",
        "money_paid": "money they paid within 180 days (COP)",
    },
    "ops.campaigns": {
        "args_key": "the arguments of the draw: the same ones on the same data give back this campaign",
        "size": "cases in the campaign",
        "treatment": "cases drawn into treatment",
        "control": "cases drawn into control",
        "control_share": "share drawn into control",
        "seed": "random seed of the draw",
        "created_by": "who drew the campaign",
        "open_until": "last day actions of the campaign are sent",
    },
    "ops.campaign_assignments": {"stratum": "stratum of expected yield the case was drawn within"},
    "features.inexacto_features": {
        "employee_shortfall_tax": "tax on the income missing at the peers' income per employee of the registry's staff (COP)",
        "group_shortfall_tax": "its share of what the linked group's registry says is missing, in tax (COP)",
        "linked_nits": "other NITs of the same linked group",
        "registry_evidence_tax": "label-free evidence: tax on what the registry (assets, staff) says is missing, for a return in the lowest quarter of income per peso of assets of its peers (COP)",
        "registry_percentile": "where declared income per peso of registered assets stands among the division and size-band peers (0 = lowest)",
    },
    "features.omiso_features": {"contractor_tax": "contractor rule: tax on what reteICA agents paid a NIT with no RIT, chamber record or return (COP)", "audited_tax": "what the nearest adjusted omiso audit of another year assessed the business, indexed by the CPI to this year: the ranking counts at least this (COP)", "audited_tax_year": "the tax year of that audit"},
    "evaluation.truth": {"true_gap": "true tax gap of the case in the ground-truth file (COP)"},
    "staging.as_of_date": {
        "as_of_source": "where the as-of date came from (setting or data)",
        "events_beyond": "dated events after the as-of date",
    },
    "ref.cpi_deflator": {
        "year": "calendar year (1989 on)",
        "inflation_dec_pct": "DANE CPI inflation, December on December, percent",
        "cpi_dec": "chained December CPI index",
    },
    "ref.cpi_by_year": {
        "year": "tax year, from 1990 (or the first CPI year) to 2100: every tax year the loader accepts",
        "cpi_dec": "December CPI index of the year; after the last published year, that year's level carried forward; NULL before the first",
        "published": "true when DANE's index for the year is in ref.cpi_deflator, false when carried forward or missing",
        "latest_year": "last year with a published CPI",
        "latest_cpi_dec": "December CPI index of that last published year (constant pesos are pesos of that year)",
    },
}

# Spanish titles of the leadership marts: the table comments of the shareable leadership file,
# which council, press and other agencies open (Spanish first).
LEADERSHIP_TITLES_ES: dict[str, str] = {
    "revenue_monthly": "Recaudo de ICA por mes de pago y sección CIIU (celdas agrupadas: '*').",
    "revenue_yearly": "Por año gravable, sección CIIU y comuna: declarado, recaudado, crecimiento nominal y real (celdas agrupadas: '*').",
    "compliance_yearly": "Por año gravable: obligados, declarantes a tiempo y tarde, omisos, impuesto estimado de los omisos.",
    "arrears": "Saldos declarados sin pagar por antigüedad y sección CIIU (celdas agrupadas: '*').",
    "audit_yield": "Por año y programa de fiscalización: casos, hallazgos, impuesto liquidado, recaudo por fiscalización; crecimiento orgánico en las filas 'total'.",
    "tax_gap": "Brecha tributaria estimada con la muestra de auditorías aleatorias, con intervalos del 95 %.",
    "revenue_forecast": "Recaudo anual: observado, pronóstico del año siguiente con intervalo del 95 % y backtests del modelo contra el pronóstico ingenuo.",
    "revenue_forecast_monthly": "Los próximos 12 meses de recaudo con intervalos del 80 % y 95 %; los meses de un año y lo recaudado suman su pronóstico anual.",
}


def column_text(schema: str, table: str, column: str) -> str | None:
    """What ``schema.table.column`` means, or None when the catalogue has no text for it."""
    text = COLUMNS.get(f"{schema}.{table}", {}).get(column) or COMMON.get(column)
    if text is None and schema in ("features", "scoring"):
        text = LABELS["es"].get(column)
    return text


def table_columns(
    con: DuckDBPyConnection, schema: str, table: str, catalog: str | None = None
) -> list[tuple[str, str]]:
    """``(column, DuckDB type)`` of a table as built, in order (in ``catalog``, else the
    connection's default one); empty when there is no such table.

    ``pragma_table_info`` looks the one table up: ``information_schema.columns`` lists every
    column of every table first, ~4 ms a call on a built warehouse against ~0.4 ms, paid by each
    of the ~80 assets of a run (benchmarks/department_cost.md). Same names, types and order.
    """
    name = ".".join(_ident(part) for part in (catalog, schema, table) if part)
    try:
        rows = con.execute("select name, type from pragma_table_info(?) order by cid", [name])
    except CatalogException:
        return []
    return [(c, t) for c, t in rows.fetchall()]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def comment_table(
    con: DuckDBPyConnection, schema: str, table: str, description: str | None, catalog: str | None = None
) -> list[tuple[str, str]]:
    """``COMMENT ON`` the table (``description``) and each of its columns with a catalogue text;
    returns the table's ``(column, type)``. Comments go with the table, so a rebuilt table
    (``create or replace``) is commented again by the asset that rebuilt it."""
    from fiscal_intel.sqlfiles import one_transaction

    prefix = f"{_ident(catalog)}." if catalog else ""
    name = f"{prefix}{_ident(schema)}.{_ident(table)}"
    columns = table_columns(con, schema, table, catalog)
    # One commit for the table's comments, not one per column (each a write to the file).
    with one_transaction(con):
        if description:
            con.execute(f"comment on table {name} is {_literal(description)}")
        for column, _ in columns:
            text = column_text(schema, table, column)
            if text:
                con.execute(f"comment on column {name}.{_ident(column)} is {_literal(text)}")
    return columns


MART_REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "mart_reference.md"


def missing_texts(con: DuckDBPyConnection) -> list[str]:
    """``marts.<table>.<column>`` of every mart column the catalogue has no text for."""
    return [
        f"marts.{t}.{c}"
        for t, c in con.execute(
            "select table_name, column_name from information_schema.columns "
            "where table_catalog = current_database() and table_schema = 'marts' "
            "order by table_name, ordinal_position"
        ).fetchall()
        if not column_text("marts", t, c)
    ]


def comment_sql_table(con: DuckDBPyConnection, relative: str) -> None:
    """``comment_table`` for a bookkeeping table ``sql/<schema>/<table>.sql`` creates if missing,
    its header comment as the table's text."""
    from fiscal_intel.lineage import header_comment
    from fiscal_intel.sqlfiles import sql_text

    schema, table = relative.split("/")
    comment_table(con, schema, table, header_comment(sql_text(relative)))


def mart_reference(con: DuckDBPyConnection) -> str:
    """The mart reference in Markdown, from a built warehouse: per mart its table comment (the
    asset's description) and each column with its catalogue text."""
    tables = con.execute(
        "select table_name, coalesce(comment, '') from duckdb_tables() "
        "where database_name = current_database() and schema_name = 'marts' order by table_name"
    ).fetchall()
    lines = [
        "# Mart reference",
        "",
        "<!-- Generated: python -m fiscal_intel.catalogue data/warehouse.duckdb -->",
        "Generated from a built warehouse: the table texts are the marts' descriptions (the SQL "
        "file's header comment, or the Python asset's description), the column texts come from "
        "`fiscal_intel/catalogue.py`. The same texts are the warehouse's `COMMENT ON TABLE` / "
        "`COMMENT ON COLUMN` and the Dagster column schemas; a test fails when this file, the "
        "catalogue and the marts disagree.",
        "",
    ]
    for table, comment in tables:
        lines += [f"## marts.{table}", "", " ".join(comment.replace("\n", " ").split()), ""]
        lines += ["| column | type | meaning |", "|---|---|---|"]
        for column, kind in table_columns(con, "marts", table):
            text = (column_text("marts", table, column) or "").replace("|", "/")
            lines.append(f"| `{column}` | {kind} | {text} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Write ``docs/mart_reference.md`` from the warehouse file given (read only)."""
    from fiscal_intel.warehouse import connect_warehouse

    args = sys.argv[1:] if argv is None else argv
    warehouse = args[0] if args else "data/warehouse.duckdb"
    with connect_warehouse(warehouse, read_only=True) as con:
        missing = missing_texts(con)
        if missing:
            print(f"no text in fiscal_intel/catalogue.py for: {', '.join(missing)}", file=sys.stderr)
            return 1
        MART_REFERENCE.write_text(mart_reference(con), encoding="utf-8")
    print(f"wrote {MART_REFERENCE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
