-- One row per current return: the signals that a filer under-reported, and the label of any
-- past inexacto audit of that return. Peers are filers of the same declared CIIU class and
-- year (the section when the class has fewer than five filers).
create or replace table features.inexacto_features as
with as_of as (
    select as_of from staging.as_of_date
),

third_party as (
    select
        nit,
        tax_year,
        sum(base_amount) as base_amount,
        count(distinct agent_nit) as agents
    from staging.stg_withholdings
    group by nit, tax_year
),

paid as (
    select
        nit,
        tax_year,
        sum(amount) as paid
    from staging.stg_payments
    group by nit, tax_year
),

registry as (
    select
        nit,
        max(total_assets) as total_assets,
        max(employees) as employees,
        arg_max(ciiu, registered_on) as ciiu
    from staging.stg_commerce_registry
    where is_local and nit is not null
    group by nit
),

returns as (
    select
        d.*,
        c.ciiu_section as declared_section,
        d.gross_income::double as gross,
        count(*) over (partition by d.ciiu, d.tax_year) as class_peers
    from staging.stg_declarations as d
    left join ref.ciiu_classes as c on d.ciiu = c.ciiu
),

peers as (
    select
        *,
        case
            when class_peers >= 5
                then median(gross) over (partition by ciiu, tax_year)
            else median(gross) over (partition by declared_section, tax_year)
        end as peer_median_income,
        case
            when class_peers >= 5
                then percent_rank() over (partition by ciiu, tax_year order by gross)
            else percent_rank() over (partition by declared_section, tax_year order by gross)
        end as peer_percentile,
        avg(income_outside / nullif(gross, 0)) over (partition by declared_section, tax_year)
            as peer_outside_share,
        avg(deductions / nullif(gross, 0)) over (partition by declared_section, tax_year)
            as peer_deductions_share
    from returns
),

audit_labels as (
    select
        nit,
        tax_year,
        outcome = 'adjusted' as adjusted,
        assessed_amount,
        selection,
        closed_on
    from staging.stg_audits
    where program = 'inexacto'
    qualify row_number() over (partition by nit, tax_year order by closed_on desc, case_id asc) = 1
),

any_audit as (
    select distinct
        nit,
        tax_year
    from staging.stg_audits
),

statute as (
    select
        nit,
        tax_year,
        make_date(tax_year + 1, $deadline_month, $deadline_day) as filing_deadline,
        (
            greatest(first_filed_on, make_date(tax_year + 1, $deadline_month, $deadline_day))
            + to_years($statute_years_filed)
        )::date as statute_expires_on
    from staging.stg_declarations
)

select
    p.nit,
    p.tax_year,
    p.ciiu,
    p.declared_section as ciiu_section,
    p.declaration_id,
    -- features (numeric; names are explained in fiscal_intel/scoring/reasons.py)
    case when e.taxpayer_type = 'juridica' then 1 else 0 end as is_juridica,
    p.gross as gross_income,
    (p.gross_income - p.income_outside)::double as local_income,
    coalesce(w.base_amount, 0)::double as third_party_base,
    coalesce(w.agents, 0) as third_party_agents,
    coalesce(w.base_amount, 0)::double / nullif(p.gross, 0) as third_party_ratio,
    greatest(coalesce(w.base_amount, 0) - (p.gross_income - p.income_outside), 0)::double
        as third_party_excess,
    p.gross / nullif(p.peer_median_income, 0) as income_vs_peers,
    p.peer_percentile,
    p.peer_median_income,
    p.income_outside::double / nullif(p.gross, 0) as outside_share,
    p.income_outside::double / nullif(p.gross, 0) - p.peer_outside_share as outside_share_vs_peers,
    p.deductions::double / nullif(p.gross, 0) as deductions_share,
    p.deductions::double / nullif(p.gross, 0) - p.peer_deductions_share
        as deductions_share_vs_peers,
    p.gross / nullif(prev.gross_income::double, 0) - 1 as income_change_yoy,
    p.rate_per_mil as declared_rate,
    rr.rate_per_mil as registry_rate,
    rr.rate_per_mil - p.rate_per_mil as rate_gap,
    case when coalesce(t.ciiu, g.ciiu) <> p.ciiu then 1 else 0 end as activity_mismatch,
    g.total_assets::double as total_assets,
    g.total_assets::double / nullif(p.gross, 0) as assets_to_income,
    g.employees,
    p.gross / nullif(g.employees, 0) as income_per_employee,
    p.total_tax::double / nullif(p.gross, 0) * 1000 as effective_rate,
    datediff('day', s.filing_deadline, p.first_filed_on) as days_late,
    p.filings - 1 as corrections,
    coalesce(pd.paid, 0)::double / nullif(p.balance_due, 0) as paid_share,
    p.total_tax::double as declared_tax,
    -- The tax on the larger of declared gross income and third-party base at the registered
    -- activity's rate, with avisos: the scale an under-report is measured against.
    greatest(p.gross, coalesce(w.base_amount, 0))
    * coalesce(rr.rate_per_mil, p.rate_per_mil) / 1000 * 1.15 as potential_tax,
    -- case facts
    s.filing_deadline,
    s.statute_expires_on,
    (aa.nit is null and s.statute_expires_on >= a.as_of) as is_candidate,
    -- labels
    l.adjusted as label_adjusted,
    l.assessed_amount::double as label_amount,
    l.selection as audit_selection,
    l.closed_on as audit_closed_on
from peers as p
inner join statute as s on p.nit = s.nit and p.tax_year = s.tax_year
left join staging.stg_entities as e on p.nit = e.nit
left join staging.stg_taxpayers as t on p.nit = t.nit
left join registry as g on p.nit = g.nit
left join staging.stg_ciiu_rates as rr on coalesce(t.ciiu, g.ciiu) = rr.ciiu
left join staging.stg_declarations as prev on p.nit = prev.nit and p.tax_year - 1 = prev.tax_year
left join third_party as w on p.nit = w.nit and p.tax_year = w.tax_year
left join paid as pd on p.nit = pd.nit and p.tax_year = pd.tax_year
left join audit_labels as l on p.nit = l.nit and p.tax_year = l.tax_year
left join any_audit as aa on p.nit = aa.nit and p.tax_year = aa.tax_year
cross join as_of as a;
