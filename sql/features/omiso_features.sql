-- One row per (nit, tax_year) in which the entity was obliged to file here, plus every past
-- omiso audit (its label). Obliged means: registered and active in the RIT, or an active local
-- chamber registration, or paid by reteICA agents that year. Candidates are the obliged rows
-- without a return; the rows with one carry the tax they declared (declared_tax), which teaches
-- the amount model what a business of that profile owes when it operates.
-- Activity evidence (renewals, employees, assets, third-party payments, past filings) is what
-- separates operating businesses from dormant shells, which owe nothing.
create or replace table features.omiso_features as
with as_of as (
    select as_of from staging.as_of_date
),

span as (
    select
        min(tax_year) as first_year,
        max(tax_year) as last_year
    from (
        select tax_year from staging.stg_declarations
        union all
        select tax_year from staging.stg_withholdings
        union all
        select tax_year from staging.stg_audits
    ) as observed
),

years_due as (
    select
        y.tax_year,
        make_date(y.tax_year + 1, $deadline_month, $deadline_day) as deadline
    from (
        select unnest(range(first_year, last_year + 1)) as tax_year
        from span
    ) as y
    cross join as_of
    where make_date(y.tax_year + 1, $deadline_month, $deadline_day) < as_of.as_of
),

last_filing as (
    select
        nit,
        max(tax_year) as last_filed_year
    from staging.stg_declarations
    group by nit
),

rit as (
    select
        t.nit,
        y.tax_year
    from staging.stg_taxpayers as t
    inner join years_due as y on t.registered_on <= make_date(y.tax_year, 12, 31)
    left join last_filing as l on t.nit = l.nit
    where t.status = 'active' or y.tax_year <= l.last_filed_year
),

rues as (
    select
        r.nit,
        y.tax_year
    from staging.stg_commerce_registry as r
    inner join years_due as y
        on
            r.registered_on <= make_date(y.tax_year, 12, 31)
            and (r.cancelled_on is null or r.cancelled_on >= make_date(y.tax_year, 1, 1))
    where r.is_local and r.nit is not null
),

third_party as (
    select
        nit,
        tax_year,
        sum(base_amount) as base_amount,
        count(distinct agent_nit) as agents,
        count(distinct period) as periods
    from staging.stg_withholdings
    group by nit, tax_year
),

obliged as (
    select
        nit,
        tax_year
    from rit
    union
    select
        nit,
        tax_year
    from rues
    union
    select
        w.nit,
        w.tax_year
    from third_party as w
    inner join years_due as y on w.tax_year = y.tax_year
    where w.base_amount > 0
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
    where program = 'omiso'
    qualify row_number() over (partition by nit, tax_year order by closed_on desc, case_id asc) = 1
),

cases as (
    select
        o.nit,
        o.tax_year
    from obliged as o
    union
    select
        nit,
        tax_year
    from audit_labels
),

history as (
    select
        c.nit,
        c.tax_year,
        count(d.nit) as prior_filings,
        max(d.tax_year) as last_filed_year,
        arg_max(d.gross_income, d.tax_year) as last_declared_income
    from cases as c
    inner join staging.stg_declarations as d on c.nit = d.nit and c.tax_year > d.tax_year
    group by c.nit, c.tax_year
),

registry as (
    select
        c.nit,
        c.tax_year,
        max(r.total_assets) as total_assets,
        max(r.employees) as employees,
        max(r.last_renewal_year) as last_renewal_year,
        min(r.registered_on) as registered_on,
        bool_or(r.status = 'ACTIVA') as rues_active_now
    from cases as c
    inner join staging.stg_commerce_registry as r on c.nit = r.nit and r.is_local
    group by c.nit, c.tax_year
),

any_audit as (
    select distinct
        nit,
        tax_year
    from staging.stg_audits
)

select
    c.nit,
    c.tax_year,
    e.ciiu,
    e.ciiu_section,
    -- features (numeric; names are explained in fiscal_intel/scoring/reasons.py)
    case when e.taxpayer_type = 'juridica' then 1 else 0 end as is_juridica,
    case
        when t.nit is not null and t.registered_on <= make_date(c.tax_year, 12, 31)
            then 1
        else 0
    end as in_rit,
    case when t.status = 'active' then 1 else 0 end as rit_active,
    c.tax_year - year(coalesce(t.registered_on, g.registered_on)) as years_registered,
    case when g.nit is not null then 1 else 0 end as in_rues_local,
    case when g.rues_active_now then 1 else 0 end as rues_active,
    g.last_renewal_year - c.tax_year as renewal_lag,
    g.total_assets::double as total_assets,
    g.employees,
    coalesce(w.base_amount, 0)::double as third_party_base,
    coalesce(w.agents, 0) as third_party_agents,
    coalesce(w.periods, 0) as third_party_periods,
    coalesce(h.prior_filings, 0) as prior_filings,
    c.tax_year - h.last_filed_year as years_since_last_filing,
    h.last_declared_income::double as last_declared_income,
    rt.rate_per_mil as activity_rate,
    coalesce(w.base_amount, 0)::double * rt.rate_per_mil / 1000 as third_party_implied_tax,
    -- case facts
    case when d.nit is not null then 1 else 0 end as filed,
    d.total_tax::double as declared_tax,
    make_date(c.tax_year + 1, $deadline_month, $deadline_day) as filing_deadline,
    (
        make_date(c.tax_year + 1, $deadline_month, $deadline_day)
        + to_years($statute_years_omiso)
    )::date as statute_expires_on,
    (
        aa.nit is null
        and d.nit is null
        and (
            make_date(c.tax_year + 1, $deadline_month, $deadline_day)
            + to_years($statute_years_omiso)
        )::date >= a.as_of
    ) as is_candidate,
    -- labels
    l.adjusted as label_adjusted,
    l.assessed_amount::double as label_amount,
    l.selection as audit_selection,
    l.closed_on as audit_closed_on
from cases as c
left join staging.stg_entities as e on c.nit = e.nit
left join staging.stg_taxpayers as t on c.nit = t.nit
left join registry as g on c.nit = g.nit and c.tax_year = g.tax_year
left join third_party as w on c.nit = w.nit and c.tax_year = w.tax_year
left join history as h on c.nit = h.nit and c.tax_year = h.tax_year
left join staging.stg_ciiu_rates as rt on e.ciiu = rt.ciiu
left join audit_labels as l on c.nit = l.nit and c.tax_year = l.tax_year
left join any_audit as aa on c.nit = aa.nit and c.tax_year = aa.tax_year
left join staging.stg_declarations as d on c.nit = d.nit and c.tax_year = d.tax_year
cross join as_of as a;
