-- One row per return known on the as-of date: the signals that a filer under-reported, the
-- label of any past inexacto audit of that return, and the facts an inspector would check.
-- Nothing dated after the as-of date is used: filings (features.known_returns), reteICA
-- bimesters (features.third_party_income), payments and audits are cut at that date, so a run
-- with an earlier --as-of sees what the office saw then.
-- Peers: returns of the same year and CIIU class (falling back to division, then section, when
-- the class has fewer than ten filers), and for income against assets also the same size band.
-- Built in steps: the returns, their percentiles among peers and each filer's own history go
-- to temp tables that the last statement joins (and drops). As one statement, with all of them
-- and every join of the wide rows alive at once, the query ran past the memory limit and took
-- about twice the time and 1.5x the CPU at 4M returns.
create or replace temp table returns as
select
    d.nit,
    d.tax_year,
    d.declaration_id,
    d.ciiu,
    c.division,
    c.ciiu_section,
    d.gross_income as gross,
    d.gross_income - d.income_outside - d.deductions as taxable,
    d.income_outside / nullif(d.gross_income, 0) as outside_share,
    d.deductions / nullif(d.gross_income, 0) as deductions_share,
    d.rate_per_mil,
    d.total_tax,
    d.balance_due,
    d.withholdings_credited,
    d.first_filed_on,
    d.filings,
    g.size_band,
    g.total_assets,
    g.employees,
    ln(nullif(d.gross_income, 0) / nullif(g.total_assets, 0)) as log_income_per_asset,
    ln(nullif(d.gross_income, 0) / nullif(g.employees, 0)) as log_income_per_employee,
    -- the statute: 3 years from the deadline, or from the filing when it was late
    make_date(d.tax_year::int + 1, $filing_deadline_month, $filing_deadline_day) as filing_deadline,
    (
        greatest(
            d.first_filed_on, make_date(d.tax_year::int + 1, $filing_deadline_month, $filing_deadline_day)
        )
        + to_years($statute_years_filed)
    )::date as statute_expires_on
from features.known_returns as d
left join ref.ciiu_classes as c on d.ciiu = c.ciiu
left join features.registry_profile as g on d.nit = g.nit;

create or replace temp table percentiles as
select
    nit,
    tax_year,
    percent_rank() over (partition by tax_year, ciiu order by gross) as pct_class,
    percent_rank() over (
        partition by tax_year, ciiu_section, size_band order by outside_share
    ) as outside_percentile,
    percent_rank() over (
        partition by tax_year, ciiu_section, size_band order by deductions_share
    ) as deductions_percentile,
    -- declared income per peso of registered assets among the same division and registry size
    -- band (label-free: where this return's yield stands among its peers, 0 = lowest)
    case
        when log_income_per_asset is not null
            then
                percent_rank() over (
                    partition by
                        tax_year, division, size_band, log_income_per_asset is null
                    order by log_income_per_asset
                )
    end as registry_percentile
from returns;

-- The same filer's other years known on the as-of date: what is normal for this business.
-- Each filer's returns gathered once into a list, each year then reads the others from it:
-- a self-join feeding a median per (nit, year) group cost twice as much at 4M returns.
create or replace temp table own_history as
with filer_years as (
    select
        nit,
        list({
            'tax_year': tax_year,
            'gross': gross,
            'outside_share': outside_share,
            'deductions_share': deductions_share,
            'rate_per_mil': rate_per_mil
        }) as years
    from returns
    group by nit
    having count(*) > 1
),

other_years as (
    select
        r.nit,
        r.tax_year,
        -- y is the lambda's argument, not a table
        list_filter(f.years, lambda y: y.tax_year <> r.tax_year) as others,  -- noqa: RF01
        list_filter(f.years, lambda y: y.tax_year = r.tax_year - 1)[1] as prev  -- noqa: RF01
    from returns as r
    inner join filer_years as f on r.nit = f.nit
)

select
    o.nit,
    o.tax_year,
    len(o.others) as other_returns,
    o.prev.gross as prev_gross,
    o.prev.outside_share as prev_outside_share,
    o.prev.deductions_share as prev_deductions_share,
    list_median(list_transform(o.others, lambda y: y.gross)) as own_median_income,
    list_median(list_transform(o.others, lambda y: y.outside_share)) as own_outside_share,
    list_median(list_transform(o.others, lambda y: y.deductions_share))
        as own_deductions_share,
    list_max(list_transform(o.others, lambda y: y.rate_per_mil)) as own_max_rate
from other_years as o
where len(o.others) > 0;

create or replace table features.inexacto_features as
with as_of as (
    select fi_as_of($as_of, (select as_of from staging.as_of_date)) as as_of
),

paid as (
    select
        p.nit,
        p.tax_year,
        sum(p.amount)::double as paid
    from staging.stg_payments as p
    cross join as_of as a
    where p.paid_on <= a.as_of
    group by p.nit, p.tax_year
),

audits_known as (
    select s.*
    from staging.stg_audits as s
    cross join as_of as a
    where s.opened_on <= a.as_of
),

audit_labels as (
    select
        nit,
        tax_year,
        outcome = 'adjusted' as adjusted,
        assessed_amount,
        selection,
        closed_on
    from audits_known
    where program = 'inexacto' and closed_on <= (select x.as_of from as_of as x)
    qualify row_number() over (partition by nit, tax_year order by closed_on desc, case_id asc) = 1
),

-- Peer statistics at three levels of the CIIU tree; the finest level with ten peers is used.
-- Counts and medians are aggregates per group joined back; only the percentiles need windows,
-- over a narrow projection: a window carries every column of its rows through its sort, and
-- the one-query form (21 windows over the wide rows) cost 19 s at 4M returns.
class_stats as (
    select
        tax_year,
        ciiu,
        count(*) as n_class,
        median(gross) as med_class,
        median(log_income_per_employee) as ie_class
    from returns
    group by tax_year, ciiu
),

division_stats as (
    select
        tax_year,
        division,
        count(*) as n_division,
        median(gross) as med_division,
        median(log_income_per_employee) as ie_division
    from returns
    group by tax_year, division
),

section_stats as (
    select
        tax_year,
        ciiu_section,
        median(gross) as med_section,
        median(log_income_per_employee) as ie_section
    from returns
    group by tax_year, ciiu_section
),

-- income outside and deductions against the same section and size band: large firms with
-- branches legitimately earn more outside than the corner shop
section_size_stats as (
    select
        tax_year,
        ciiu_section,
        size_band,
        median(outside_share) as peer_outside_share,
        median(deductions_share) as peer_deductions_share,
        median(log_income_per_asset) as ia_section
    from returns
    group by tax_year, ciiu_section, size_band
),

-- income per peso of assets, against the same class (or division) and size band
class_size_stats as (
    select
        tax_year,
        ciiu,
        size_band,
        count(log_income_per_asset) as na_class,
        median(log_income_per_asset) as ia_class
    from returns
    group by tax_year, ciiu, size_band
),

division_size_stats as (
    select
        tax_year,
        division,
        size_band,
        count(log_income_per_asset) as na_division,
        median(log_income_per_asset) as ia_division
    from returns
    group by tax_year, division, size_band
),

-- A class with fewer than ten returns is ranked within its division (or section), among all
-- of the division's returns; only the divisions and sections holding such a class are ranked,
-- which at national scale is a small share of the returns.
coarse_groups as (
    select distinct
        r.tax_year,
        r.division,
        r.ciiu_section
    from returns as r
    inner join class_stats as cs
        on r.tax_year = cs.tax_year and r.ciiu is not distinct from cs.ciiu
    where cs.n_class < 10
),

division_percentiles as (
    select
        r.nit,
        r.tax_year,
        percent_rank() over (partition by r.tax_year, r.division order by r.gross)
            as pct_division
    from returns as r
    where exists (
        select 1
        from coarse_groups as c
        where c.tax_year = r.tax_year and c.division is not distinct from r.division
    )
),

section_percentiles as (
    select
        r.nit,
        r.tax_year,
        percent_rank() over (partition by r.tax_year, r.ciiu_section order by r.gross)
            as pct_section
    from returns as r
    where exists (
        select 1
        from coarse_groups as c
        where c.tax_year = r.tax_year and c.ciiu_section is not distinct from r.ciiu_section
    )
),

peer_levels as (
    select
        r.*,
        cs.n_class,
        ds.n_division,
        cs.med_class,
        ds.med_division,
        ss.med_section,
        pr.pct_class,
        dp.pct_division,
        sp.pct_section,
        zs.peer_outside_share,
        pr.outside_percentile,
        zs.peer_deductions_share,
        pr.deductions_percentile,
        pr.registry_percentile,
        cz.na_class,
        dz.na_division,
        cz.ia_class,
        dz.ia_division,
        zs.ia_section,
        cs.ie_class,
        ds.ie_division,
        ss.ie_section
    from returns as r
    inner join percentiles as pr on r.nit = pr.nit and r.tax_year = pr.tax_year
    left join division_percentiles as dp on r.nit = dp.nit and r.tax_year = dp.tax_year
    left join section_percentiles as sp on r.nit = sp.nit and r.tax_year = sp.tax_year
    left join class_stats as cs
        on r.tax_year = cs.tax_year and r.ciiu is not distinct from cs.ciiu
    left join division_stats as ds
        on r.tax_year = ds.tax_year and r.division is not distinct from ds.division
    left join section_stats as ss
        on r.tax_year = ss.tax_year and r.ciiu_section is not distinct from ss.ciiu_section
    left join section_size_stats as zs
        on
            r.tax_year = zs.tax_year
            and r.ciiu_section is not distinct from zs.ciiu_section
            and r.size_band is not distinct from zs.size_band
    left join class_size_stats as cz
        on
            r.tax_year = cz.tax_year
            and r.ciiu is not distinct from cz.ciiu
            and r.size_band is not distinct from cz.size_band
    left join division_size_stats as dz
        on
            r.tax_year = dz.tax_year
            and r.division is not distinct from dz.division
            and r.size_band is not distinct from dz.size_band
),

peers as (
    select
        *,
        case
            when n_class >= 10 then 'class ' || ciiu
            when n_division >= 10 then 'division ' || division
            else 'section ' || ciiu_section
        end as peer_group,
        case
            when n_class >= 10 then med_class
            when n_division >= 10 then med_division
            else med_section
        end as peer_median_income,
        case
            when n_class >= 10 then pct_class
            when n_division >= 10 then pct_division
            else pct_section
        end as peer_percentile,
        case
            when na_class >= 10 then 'class ' || ciiu
            when na_division >= 10 then 'division ' || division
            else 'section ' || ciiu_section
        end as asset_peer_group,
        exp(case
            when na_class >= 10 then ia_class
            when na_division >= 10 then ia_division
            else ia_section
        end) as peer_income_per_asset,
        exp(case
            when n_class >= 10 then ie_class
            when n_division >= 10 then ie_division
            else ie_section
        end) as peer_income_per_employee
    from peer_levels
),

-- Past audits of the same filer in other years, closed by the as-of date.
audit_history as (
    select
        r.nit,
        r.tax_year,
        count(*) filter (where a.outcome = 'adjusted') as past_adjusted_audits,
        count(*) filter (where a.outcome <> 'adjusted') as past_clean_audits
    from returns as r
    inner join audits_known as a
        on
            r.nit = a.nit
            and r.tax_year <> a.tax_year
            and a.closed_on <= (select x.as_of from as_of as x)
    group by r.nit, r.tax_year
),

-- The same filer's returns for the years an inexacto audit adjusted: did it declare this year
-- the way it did in the years found under-reported?
adjusted_years as (
    select
        r.nit,
        r.tax_year,
        -- ordered: a parallel sum of doubles differs in its last bits from run to run
        avg(o.outside_share order by o.tax_year) as adjusted_outside_share,
        avg(o.deductions_share order by o.tax_year) as adjusted_deductions_share,
        avg(o.rate_per_mil order by o.tax_year) as adjusted_rate,
        avg(o.gross order by o.tax_year) as adjusted_income
    from returns as r
    inner join audits_known as a
        on
            r.nit = a.nit
            and r.tax_year <> a.tax_year
            and a.program = 'inexacto'
            and a.outcome = 'adjusted'
            and a.closed_on <= (select x.as_of from as_of as x)
    inner join returns as o on a.nit = o.nit and a.tax_year = o.tax_year
    group by r.nit, r.tax_year
),

-- Every case opened on the NIT and year by the as-of date, closed or still in progress (no
-- closed_on): a case being worked is not a candidate for either list. Only closed ones are
-- labels (audit_labels).
any_audit as (
    select distinct
        nit,
        tax_year
    from audits_known
),

-- The RIT as known on the as-of date: a registration made after it did not exist yet.
rit_known as (
    select t.*
    from staging.stg_taxpayers as t
    cross join as_of as a
    where t.registered_on <= a.as_of
),

-- The activity rate the registries give this business: RIT first, then the chamber; and its
-- type (the RIT's, else the NIT's shape as in staging.stg_entities).
registered_activity as (
    select
        r.nit,
        coalesce(
            t.taxpayer_type,
            case when length(r.nit) = 9 and r.nit[1] in ('8', '9') then 'juridica' end,
            'natural'
        ) as taxpayer_type,
        coalesce(t.ciiu, g.ciiu) as ciiu,
        rr.rate_per_mil,
        tr.rate_per_mil as rit_rate,
        g.activity_rate as chamber_rate
    from (select distinct nit from returns) as r
    left join rit_known as t on r.nit = t.nit
    left join features.registry_profile as g on r.nit = g.nit
    left join staging.stg_ciiu_rates as rr on coalesce(t.ciiu, g.ciiu) = rr.ciiu
    left join staging.stg_ciiu_rates as tr on t.ciiu = tr.ciiu
),

features as (
    select
        p.nit,
        p.tax_year,
        p.ciiu,
        p.ciiu_section,
        p.declaration_id,
        p.size_band,
        p.peer_group,
        p.asset_peer_group,
        ra.ciiu as registered_ciiu,
        -- features (numeric; their reasons are written in fiscal_intel/scoring/reasons.py)
        case when ra.taxpayer_type = 'juridica' then 1 else 0 end as is_juridica,
        p.gross as gross_income,
        p.gross * (1 - coalesce(p.outside_share, 0)) as local_income,
        p.taxable as taxable_income,
        coalesce(w.base_amount, 0) as third_party_base,
        coalesce(w.agents, 0) as third_party_agents,
        coalesce(w.base_amount, 0) / nullif(p.gross * (1 - coalesce(p.outside_share, 0)), 0)
            as third_party_ratio,
        greatest(coalesce(w.base_amount, 0) - p.gross * (1 - coalesce(p.outside_share, 0)), 0)
            as third_party_excess,
        -- the tax on third-party income above declared local income, at the declared rate
        fi_ica_with_avisos(
            greatest(coalesce(w.base_amount, 0) - p.gross * (1 - coalesce(p.outside_share, 0)), 0),
            p.rate_per_mil
        ) as third_party_excess_tax,
        p.gross / nullif(p.peer_median_income, 0) as income_vs_peers,
        p.peer_percentile,
        p.peer_median_income,
        p.gross / nullif(p.total_assets, 0) as income_per_asset,
        p.peer_income_per_asset,
        (p.gross / nullif(p.total_assets, 0)) / nullif(p.peer_income_per_asset, 0)
            as income_per_asset_vs_peers,
        p.outside_share,
        p.peer_outside_share,
        p.outside_share - p.peer_outside_share as outside_share_vs_peers,
        p.outside_percentile,
        p.outside_share - h.own_outside_share as outside_share_vs_own,
        coalesce(g.branches_elsewhere, 0) as branches_elsewhere,
        p.deductions_share,
        p.peer_deductions_share,
        p.deductions_share - p.peer_deductions_share as deductions_share_vs_peers,
        p.deductions_percentile,
        p.deductions_share - h.own_deductions_share as deductions_share_vs_own,
        -- the tax on outside income and deductions above the peers' shares, at the declared rate
        fi_ica_with_avisos(
            greatest(coalesce(p.outside_share - p.peer_outside_share, 0), 0) * p.gross,
            p.rate_per_mil
        ) as outside_excess_tax,
        fi_ica_with_avisos(
            greatest(coalesce(p.deductions_share - p.peer_deductions_share, 0), 0) * p.gross,
            p.rate_per_mil
        ) as deductions_excess_tax,
        p.gross / nullif(h.prev_gross, 0) - 1 as income_change_yoy,
        p.gross / nullif(h.own_median_income, 0) as income_vs_own,
        p.outside_share - h.prev_outside_share as outside_share_change_yoy,
        p.deductions_share - h.prev_deductions_share as deductions_share_change_yoy,
        p.rate_per_mil as declared_rate,
        ra.rate_per_mil as registry_rate,
        ra.rate_per_mil - p.rate_per_mil as rate_gap,
        h.own_max_rate - p.rate_per_mil as rate_drop_vs_own,
        case when ra.ciiu <> p.ciiu then 1 else 0 end as activity_mismatch,
        ra.chamber_rate - p.rate_per_mil as chamber_rate_gap,
        -- a gap both registries agree on is not a stale registry entry
        coalesce(
            least(ra.rit_rate, ra.chamber_rate), ra.rit_rate, ra.chamber_rate
        ) - p.rate_per_mil as confirmed_rate_gap,
        -- the tax the registered activity's rate would add on the declared taxable income
        fi_ica_with_avisos(
            p.taxable, greatest(coalesce(ra.rate_per_mil - p.rate_per_mil, 0), 0)
        ) as rate_gap_tax,
        p.total_assets,
        p.total_assets / nullif(p.gross, 0) as assets_to_income,
        p.employees,
        p.gross / nullif(p.employees, 0) as income_per_employee,
        p.peer_income_per_employee,
        (p.gross / nullif(p.employees, 0)) / nullif(p.peer_income_per_employee, 0)
            as income_per_employee_vs_peers,
        p.registry_percentile,
        p.total_tax / nullif(p.gross, 0) * 1000 as effective_rate,
        datediff('day', p.filing_deadline, p.first_filed_on) as days_late,
        p.filings - 1 as corrections,
        p.withholdings_credited / nullif(p.total_tax, 0) as credited_to_tax,
        coalesce(pd.paid, 0) / nullif(p.balance_due, 0) as paid_share,
        coalesce(h.other_returns, 0) as other_returns,
        coalesce(ah.past_adjusted_audits, 0) as past_adjusted_audits,
        coalesce(ah.past_clean_audits, 0) as past_clean_audits,
        p.outside_share - ay.adjusted_outside_share as outside_share_vs_adjusted_years,
        p.deductions_share - ay.adjusted_deductions_share as deductions_share_vs_adjusted_years,
        p.rate_per_mil - ay.adjusted_rate as rate_vs_adjusted_years,
        p.gross / nullif(ay.adjusted_income, 0) as income_vs_adjusted_years,
        p.total_tax as declared_tax,
        -- The tax on the larger of declared gross income and third-party base at the registered
        -- activity's rate, with avisos: the scale an under-report is measured against.
        fi_ica_with_avisos(
            greatest(p.gross, coalesce(w.base_amount, 0)),
            coalesce(ra.rate_per_mil, p.rate_per_mil)
        ) as potential_tax,
        -- The rule an analyst applies without a model (the baseline it must beat): the tax on
        -- third-party income above declared local income, at the registered activity's rate.
        greatest(coalesce(w.base_amount, 0) - p.gross * (1 - coalesce(p.outside_share, 0)), 0)
        * coalesce(ra.rate_per_mil, p.rate_per_mil) / 1000 as rule_score,
        -- case facts
        p.filing_deadline,
        p.statute_expires_on,
        (aa.nit is null and p.statute_expires_on >= a.as_of) as is_candidate,
        -- labels (closed audits only)
        l.adjusted as label_adjusted,
        l.assessed_amount::double as label_amount,
        l.selection as audit_selection,
        l.closed_on as audit_closed_on
    from peers as p
    left join features.registry_profile as g on p.nit = g.nit
    left join registered_activity as ra on p.nit = ra.nit
    left join own_history as h on p.nit = h.nit and p.tax_year = h.tax_year
    left join audit_history as ah on p.nit = ah.nit and p.tax_year = ah.tax_year
    left join adjusted_years as ay on p.nit = ay.nit and p.tax_year = ay.tax_year
    left join features.third_party_income as w on p.nit = w.nit and p.tax_year = w.tax_year
    left join paid as pd on p.nit = pd.nit and p.tax_year = pd.tax_year
    left join audit_labels as l on p.nit = l.nit and p.tax_year = l.tax_year
    left join any_audit as aa on p.nit = aa.nit and p.tax_year = aa.tax_year
    cross join as_of as a
),

-- Natural-person NITs that look like one business split to declare little (issue #20): the
-- same surnames (the last two words of the RIT name), the same activity, registered in the RIT
-- within 120 days of each other. Scored as a group below.
linked as (
    select
        nit,
        name_root || '/' || ciiu as link_key,
        count(*) over (partition by name_root, ciiu) as group_nits
    from (
        select
            nit,
            ciiu,
            registered_on,
            list_aggregate(string_split(trim(legal_name), ' ')[-2:], 'string_agg', ' ')
                as name_root
        from rit_known
        where taxpayer_type = 'natural' and ciiu is not null
    ) as named
    qualify
        count(*) over (partition by name_root, ciiu) between 2 and 6
        and datediff(
            'day',
            min(registered_on) over (partition by name_root, ciiu),
            max(registered_on) over (partition by name_root, ciiu)
        ) <= 120
),

-- The group's declared income against what its registered assets bring at the peers' yield.
linked_totals as (
    select
        f.tax_year,
        k.link_key,
        sum(f.gross_income) as group_income,
        sum(f.peer_income_per_asset * f.total_assets) as group_asset_income
    from features as f
    inner join linked as k on f.nit = k.nit
    group by f.tax_year, k.link_key
)

select
    f.*,
    coalesce(k.group_nits - 1, 0) as linked_nits,
    fi_ica_with_avisos(
        greatest(lt.group_asset_income - lt.group_income, 0), f.declared_rate
    ) as group_shortfall_tax,
    -- What the data-matching checks together say is missing, in tax: the sum an inspector
    -- would try to assess first, and its size against the tax declared.
    coalesce(f.third_party_excess_tax, 0)
    + coalesce(f.outside_excess_tax, 0)
    + coalesce(f.deductions_excess_tax, 0)
    + coalesce(f.rate_gap_tax, 0) as suspected_gap_tax,
    (
        coalesce(f.third_party_excess_tax, 0)
        + coalesce(f.outside_excess_tax, 0)
        + coalesce(f.deductions_excess_tax, 0)
        + coalesce(f.rate_gap_tax, 0)
    ) / nullif(f.declared_tax, 0) as suspected_gap_ratio,
    -- the income the registered assets would bring at the asset peers' yield, and the tax
    -- on what is missing from it
    fi_ica_with_avisos(
        greatest(f.peer_income_per_asset * f.total_assets - f.gross_income, 0), f.declared_rate
    ) as asset_shortfall_tax,
    -- the same with the staff the registry shows, at the peers' income per employee
    fi_ica_with_avisos(
        greatest(f.peer_income_per_employee * f.employees - f.gross_income, 0), f.declared_rate
    ) as employee_shortfall_tax,
    -- Evidence scored without labels (issue #20): a return whose income per peso of assets is
    -- in the lowest quarter of its division and size band, the tax on what the registry says is
    -- missing (with staff on record, only what assets and staff both say: the smaller); for a
    -- piece of a linked group, at least its share of what the group's registry says is missing.
    greatest(
        case
            when f.registry_percentile <= 0.25
                then least(
                    fi_ica_with_avisos(
                        greatest(f.peer_income_per_asset * f.total_assets - f.gross_income, 0),
                        f.declared_rate
                    ),
                    coalesce(
                        fi_ica_with_avisos(
                            greatest(
                                f.peer_income_per_employee * nullif(f.employees, 0)
                                - f.gross_income,
                                0
                            ),
                            f.declared_rate
                        ),
                        1e300
                    )
                )
            else 0
        end,
        fi_ica_with_avisos(
            greatest(lt.group_asset_income - lt.group_income, 0), f.declared_rate
        ) / k.group_nits,
        0
    ) as registry_evidence_tax
from features as f
left join linked as k on f.nit = k.nit
left join linked_totals as lt on f.tax_year = lt.tax_year and k.link_key = lt.link_key;

drop table returns;

drop table percentiles;

drop table own_history;
