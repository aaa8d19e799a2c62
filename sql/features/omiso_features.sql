-- One row per (nit, tax_year) in which the entity was obliged to file here, plus every past
-- omiso audit (its label). Obliged means: registered in the RIT (active, or filing then), or
-- an open local chamber registration, or paid by reteICA agents that year. Candidates are the
-- obliged rows without a return; the rows with one carry the tax they declared
-- (declared_tax), which teaches the amount model what a business of that profile owes.
-- Activity evidence separates operating businesses from dormant shells, which owe nothing:
-- returns filed for other years, reteICA payments in the year and the years around it,
-- registry renewals, employees and assets. Nothing dated after the as-of date is used.
create or replace table features.omiso_features as
with as_of as (
    select fi_as_of($as_of, (select as_of from staging.as_of_date)) as as_of
),

audits_known as (
    select s.*
    from staging.stg_audits as s
    cross join as_of as a
    where s.opened_on <= a.as_of
),

span as (
    select
        min(tax_year) as first_year,
        max(tax_year) as last_year
    from (
        select tax_year from features.known_returns
        union all
        select tax_year from features.third_party_income
        union all
        select tax_year from audits_known
    ) as observed
),

years_due as (
    select
        y.tax_year::int as tax_year,
        make_date(y.tax_year::int + 1, $filing_deadline_month, $filing_deadline_day) as deadline
    from (
        select unnest(range(first_year, last_year + 1)) as tax_year
        from span
    ) as y
    cross join as_of
    where make_date(y.tax_year::int + 1, $filing_deadline_month, $filing_deadline_day) < as_of.as_of
),

last_filing as (
    select
        nit,
        max(tax_year) as last_filed_year
    from features.known_returns
    group by nit
),

-- The RIT as known on the as-of date: a registration made after it did not exist yet.
rit_known as (
    select t.*
    from staging.stg_taxpayers as t
    cross join as_of as a
    where t.registered_on <= a.as_of
),

rit as (
    select
        t.nit,
        y.tax_year
    from rit_known as t
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
    cross join as_of as a
    where r.is_local and r.nit is not null and r.registered_on <= a.as_of
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
    from features.third_party_income as w
    inner join years_due as y on w.tax_year = y.tax_year
    where w.base_amount > 0
),

audit_labels as (
    select
        nit,
        tax_year::int as tax_year,
        outcome = 'adjusted' as adjusted,
        assessed_amount,
        selection,
        closed_on
    from audits_known
    where program = 'omiso' and closed_on <= (select x.as_of from as_of as x)
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

-- Returns the same entity filed for other years: a business that files in the years around
-- a gap is operating, and what it declared then is the best guess of what it owes now.
-- Each filer's returns are gathered once into a list that every case of the filer reads,
-- sorted nearest year first: the join of 5M cases to their filer's returns, grouped back with
-- list-keyed arg_min, was 40 % of this query at 1M taxpayers.
filer_returns as (
    select
        nit,
        list({
            'tax_year': tax_year, 'total_tax': total_tax, 'gross_income': gross_income
        }) as filed
    from features.known_returns
    group by nit
),

other_returns as (
    select
        c.nit,
        c.tax_year,
        -- d is the lambda's argument, not a table
        -- noqa: disable=RF01
        list_sort(list_transform(
            list_filter(f.filed, lambda d: d.tax_year <> c.tax_year),
            lambda d: {
                'distance': abs(d.tax_year - c.tax_year),
                'tax_year': d.tax_year,
                'total_tax': d.total_tax,
                'gross_income': d.gross_income
            }
        )) as others
        -- noqa: enable=RF01
    from cases as c
    inner join filer_returns as f on c.nit = f.nit
),

history as (
    select
        o.nit,
        o.tax_year,
        len(list_filter(o.others, lambda d: d.tax_year < o.tax_year)) as prior_filings,
        len(list_filter(o.others, lambda d: d.tax_year > o.tax_year)) as later_filings,
        list_max(list_transform(
            list_filter(o.others, lambda d: d.tax_year < o.tax_year), lambda d: d.tax_year
        )) as last_filed_year,
        list_bool_or(list_transform(o.others, lambda d: d.tax_year = o.tax_year - 1))
            as filed_prev_year,
        list_bool_or(list_transform(o.others, lambda d: d.tax_year = o.tax_year + 1))
            as filed_next_year,
        o.others[1].tax_year as nearest_filed_year,
        -- as arg_min did: the nearest year with a value
        list_filter(o.others, lambda d: d.total_tax is not null)[1].total_tax
            as nearest_declared_tax,
        list_filter(o.others, lambda d: d.gross_income is not null)[1].gross_income
            as nearest_declared_income
    from other_returns as o
    where len(o.others) > 0
),

-- reteICA payments in the years next to this one: a business paid by third parties the year
-- before and after was most likely operating in between.
adjacent_third_party as (
    select
        c.nit,
        c.tax_year,
        max(w.base_amount) as base_amount
    from cases as c
    inner join features.third_party_income as w
        on c.nit = w.nit and abs(w.tax_year - c.tax_year) = 1
    group by c.nit, c.tax_year
),

audit_history as (
    select
        c.nit,
        c.tax_year,
        count(*) filter (where a.outcome = 'adjusted') as past_adjusted_audits,
        count(*) filter (where a.outcome <> 'adjusted') as past_clean_audits
    from cases as c
    inner join audits_known as a
        on
            c.nit = a.nit
            and c.tax_year <> a.tax_year
            and a.closed_on <= (select x.as_of from as_of as x)
    group by c.nit, c.tax_year
),

-- What filers of the same CIIU section earn per peso of registered assets and per employee:
-- a non-filer's registry entry then says what it would declare if it were like its peers.
section_yield as (
    select
        k.ciiu_section,
        exp(median(ln(nullif(d.gross_income, 0) / nullif(g.total_assets, 0))))
            as income_per_asset,
        exp(median(ln(nullif(d.gross_income, 0) / nullif(g.employees, 0))))
            as income_per_employee
    from features.known_returns as d
    inner join features.registry_profile as g on d.nit = g.nit
    inner join ref.ciiu_classes as k on d.ciiu = k.ciiu
    group by k.ciiu_section
),

-- Who each case's NIT is, as known on the as-of date: type from the RIT (else the NIT's
-- shape, as in staging.stg_entities: nine digits starting 8 or 9 is a company) and main
-- activity from the RIT, else the chamber, else its latest return.
latest_activity as (
    select
        nit,
        arg_max(ciiu, tax_year) as ciiu
    from features.known_returns
    group by nit
),

entity as (
    select
        n.nit,
        coalesce(
            t.taxpayer_type,
            case when length(n.nit) = 9 and n.nit[1] in ('8', '9') then 'juridica' end,
            'natural'
        ) as taxpayer_type,
        coalesce(t.ciiu, g.ciiu, la.ciiu) as ciiu
    from (select distinct nit from cases) as n
    left join rit_known as t on n.nit = t.nit
    left join features.registry_profile as g on n.nit = g.nit
    left join latest_activity as la on n.nit = la.nit
),

-- What an omiso audit of another year established this business owed (its liquidación de
-- aforo), indexed by the CPI to the case's year:
-- the office's own finding on the same business. A non-filer's last return is what it chose
-- to declare, and the amount model learns from what filers declare; an audit measured what it
-- earned. The nearest audited year counts (the earlier on a tie). Years past the last CPI
-- published take its last level (ref.cpi_by_year).
audited as (
    select
        c.nit,
        c.tax_year,
        arg_min(
            l.assessed_amount::double * coalesce(pc.cpi_dec / pa.cpi_dec, 1),
            abs(l.tax_year - c.tax_year) * 2 + (l.tax_year > c.tax_year)::int
        ) as audited_tax,
        arg_min(
            l.tax_year, abs(l.tax_year - c.tax_year) * 2 + (l.tax_year > c.tax_year)::int
        ) as audited_tax_year
    from cases as c
    inner join audit_labels as l
        on c.nit = l.nit and c.tax_year <> l.tax_year and l.adjusted and l.assessed_amount > 0
    left join ref.cpi_by_year as pa on l.tax_year = pa.year
    left join ref.cpi_by_year as pc on c.tax_year = pc.year
    group by c.nit, c.tax_year
),

-- Every case opened on the NIT and year by the as-of date, closed or still in progress (no
-- closed_on): a case being worked is not a candidate for either list. Only closed ones are
-- labels (audit_labels).
any_audit as (
    select distinct
        nit,
        tax_year
    from audits_known
)

select
    c.nit,
    c.tax_year,
    e.ciiu,
    k.ciiu_section,
    g.size_band,
    -- features (numeric; their reasons are written in fiscal_intel/scoring/reasons.py)
    case when e.taxpayer_type = 'juridica' then 1 else 0 end as is_juridica,
    case
        when t.nit is not null and t.registered_on <= make_date(c.tax_year, 12, 31)
            then 1
        else 0
    end as in_rit,
    case when t.status = 'active' then 1 else 0 end as rit_active,
    c.tax_year - year(coalesce(t.registered_on, g.registered_on)) as years_registered,
    case when g.local_registrations > 0 then 1 else 0 end as in_rues_local,
    case when g.active then 1 else 0 end as rues_active,
    g.last_renewal_year,
    g.last_renewal_year - c.tax_year as renewal_lag,
    g.total_assets,
    g.employees,
    coalesce(g.branches_elsewhere, 0) as branches_elsewhere,
    coalesce(w.base_amount, 0) as third_party_base,
    coalesce(w.agents, 0) as third_party_agents,
    coalesce(w.periods, 0) as third_party_periods,
    coalesce(aw.base_amount, 0) as third_party_base_adjacent,
    coalesce(h.prior_filings, 0) as prior_filings,
    coalesce(h.later_filings, 0) as later_filings,
    case when h.filed_prev_year then 1 else 0 end as filed_prev_year,
    case when h.filed_next_year then 1 else 0 end as filed_next_year,
    c.tax_year - h.last_filed_year as years_since_last_filing,
    h.nearest_filed_year,
    h.nearest_declared_tax,
    h.nearest_declared_income,
    -- a business that stopped filing yet keeps the assets, staff and renewals of the income
    -- it used to declare is still operating; a shell keeps none of them
    g.total_assets / nullif(h.nearest_declared_income, 0) as assets_to_declared_income,
    h.nearest_declared_income / nullif(g.employees, 0) as declared_income_per_employee,
    g.last_renewal_year - h.last_filed_year as renewals_after_last_filing,
    -- The registry against the income it declared: a business that went dormant keeps a
    -- shell's assets and no staff, an operating one the assets and staff its income needs (log
    -- of what filers of its section declare with such assets or staff over what it declared;
    -- staff counts half a person more so that no staff at all is a number, not a gap).
    ln(
        nullif(g.total_assets, 0) * sy.income_per_asset / nullif(h.nearest_declared_income, 0)
    ) as assets_vs_declared_income,
    ln(
        (g.employees + 0.5) * sy.income_per_employee / nullif(h.nearest_declared_income, 0)
    ) as staff_vs_declared_income,
    -- and without a return to compare with: staff against assets (a shell's assets come
    -- without staff)
    ln(
        (g.employees + 0.5) * sy.income_per_employee
        / nullif(nullif(g.total_assets, 0) * sy.income_per_asset, 0)
    ) as staff_vs_assets,
    -- the income and tax that filers of the same section declare for such a registry entry
    g.total_assets * sy.income_per_asset as asset_implied_income,
    g.employees * sy.income_per_employee as employee_implied_income,
    fi_ica_with_avisos(g.total_assets * sy.income_per_asset, rt.rate_per_mil)
        as asset_implied_tax,
    fi_ica_with_avisos(g.employees * sy.income_per_employee, rt.rate_per_mil)
        as employee_implied_tax,
    coalesce(ah.past_adjusted_audits, 0) as past_adjusted_audits,
    coalesce(ah.past_clean_audits, 0) as past_clean_audits,
    rt.rate_per_mil as activity_rate,
    fi_ica_with_avisos(coalesce(w.base_amount, 0), rt.rate_per_mil) as third_party_implied_tax,
    -- The contractor rule, scored without labels (issue #20): reteICA agents paid this NIT for
    -- work here while it has no RIT registration, no local chamber record and no return for
    -- any year. Being paid here is operating here, an obligation to file (Ley 14 de 1983 art.
    -- 32); the tax on what was paid, at the rate the agents withheld at when the activity is
    -- unknown.
    case
        when
            t.nit is null
            and coalesce(g.local_registrations, 0) = 0
            and coalesce(h.prior_filings, 0) + coalesce(h.later_filings, 0) = 0
            and coalesce(w.base_amount, 0) > 0
            then
                fi_ica_with_avisos(
                    w.base_amount,
                    coalesce(rt.rate_per_mil, w.withheld_amount / w.base_amount * 1000)
                )
        else 0
    end as contractor_tax,
    -- the tax an omiso audit of another year established (``audited``): the ranking counts
    -- at least this much (fiscal_intel.scoring.spec.ProgramSpec.amount_floor)
    au.audited_tax,
    au.audited_tax_year,
    -- The rule an analyst applies without a model (the baseline it must beat): registered
    -- assets times the activity's rate.
    coalesce(g.total_assets, 0) * coalesce(rt.rate_per_mil, 0) / 1000 as rule_score,
    -- case facts
    case when d.nit is not null then 1 else 0 end as filed,
    d.total_tax as declared_tax,
    d.first_filed_on,
    make_date(c.tax_year + 1, $filing_deadline_month, $filing_deadline_day) as filing_deadline,
    -- no return yet for the year whose deadline passed less than a year ago: as likely late
    -- as omitted (fiscal_intel.scoring.model.LATE_FILING_PROGRAMS)
    (
        d.nit is null
        and make_date(c.tax_year + 1, $filing_deadline_month, $filing_deadline_day)
        > a.as_of - interval 1 year
    ) as late_filing_open,
    (
        make_date(c.tax_year + 1, $filing_deadline_month, $filing_deadline_day)
        + to_years($statute_years_omiso)
    )::date as statute_expires_on,
    (
        aa.nit is null
        and d.nit is null
        -- a return for the year that sits in quarantine was filed: the file needs fixing, the
        -- filer no visit
        and not exists (
            select 1
            from ops.quarantine as q
            where q.source = 'declarations' and q.nit = c.nit and q.tax_year = c.tax_year
        )
        and (
            make_date(c.tax_year + 1, $filing_deadline_month, $filing_deadline_day)
            + to_years($statute_years_omiso)
        )::date >= a.as_of
    ) as is_candidate,
    -- labels (closed audits only)
    l.adjusted as label_adjusted,
    l.assessed_amount::double as label_amount,
    l.selection as audit_selection,
    l.closed_on as audit_closed_on
from cases as c
left join entity as e on c.nit = e.nit
left join ref.ciiu_classes as k on e.ciiu = k.ciiu
left join rit_known as t on c.nit = t.nit
left join features.registry_profile as g on c.nit = g.nit
left join features.third_party_income as w on c.nit = w.nit and c.tax_year = w.tax_year
left join adjacent_third_party as aw on c.nit = aw.nit and c.tax_year = aw.tax_year
left join history as h on c.nit = h.nit and c.tax_year = h.tax_year
left join audit_history as ah on c.nit = ah.nit and c.tax_year = ah.tax_year
left join staging.stg_ciiu_rates as rt on e.ciiu = rt.ciiu
left join section_yield as sy on k.ciiu_section = sy.ciiu_section
left join audit_labels as l on c.nit = l.nit and c.tax_year = l.tax_year
left join any_audit as aa on c.nit = aa.nit and c.tax_year = aa.tax_year
left join audited as au on c.nit = au.nit and c.tax_year = au.tax_year
left join features.known_returns as d on c.nit = d.nit and c.tax_year = d.tax_year
cross join as_of as a;
