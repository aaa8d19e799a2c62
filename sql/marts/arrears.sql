-- Declared but unpaid ICA on the as-of date, by age of the debt and CIIU section of the debtor.
-- A return's outstanding balance is its balance due minus the payments applied to that taxpayer
-- and tax year up to the as-of date (never below zero). Its age runs from the day it fell due:
-- the filing deadline, or the filing date when filed late. Debts 5 years old or more are likely
-- beyond collection (ET art. 817: the collection action prescribes in 5 years).
-- Tax secrecy (ET art. 583): within an age bucket, sections owed by fewer than
-- $min_cell_taxpayers debtors are pooled into one row (ciiu_section '*'), with the next-smallest
-- sections while the pool is itself too small; a bucket too small altogether joins one pool of
-- such buckets (age_bucket '*'). Pools keep every peso; only a pool of buckets itself too small
-- is withheld.
create or replace table marts.arrears as
with as_of as (
    select as_of from staging.as_of_date
),

paid as (
    select
        p.nit,
        p.tax_year,
        sum(p.amount) as paid
    from staging.stg_payments as p
    cross join as_of as a
    where p.paid_on <= a.as_of
    group by all
),

debts as (
    select
        d.nit,
        d.tax_year,
        e.ciiu_section,
        d.balance_due,
        d.balance_due - coalesce(p.paid, 0) as outstanding,
        a.as_of - greatest(
            make_date(d.tax_year + 1, $filing_deadline_month, $filing_deadline_day), d.first_filed_on
        ) as days_due
    from staging.stg_declarations as d
    cross join as_of as a
    left join paid as p on d.nit = p.nit and d.tax_year = p.tax_year
    left join staging.stg_entities as e on d.nit = e.nit
    where d.first_filed_on <= a.as_of and d.balance_due - coalesce(p.paid, 0) > 0
),

bucketed as (
    select
        *,
        case
            when days_due < 365 then 1
            when days_due < 730 then 2
            when days_due < 1095 then 3
            when days_due < 1826 then 4
            else 5
        end as age_order
    from debts
),

cells as (
    select
        age_order,
        ciiu_section,
        count(distinct nit) as debtors,
        count(*) as returns,
        sum(outstanding) as outstanding,
        sum(balance_due) as balance_due
    from bucketed
    group by all
),

ordered as (
    -- A debtor has one main activity: the sections of a bucket are disjoint, so the debtors of a
    -- pool are the sum of its cells' debtors. Smallest first: the small ones lead.
    select
        *,
        count(*) filter (where debtors < $min_cell_taxpayers) over (partition by age_order)
            as small_cells,
        row_number() over w as pos,
        sum(debtors) over (w rows between unbounded preceding and current row) as pool_debtors
    from cells
    window w as (
        partition by age_order
        order by debtors asc, outstanding asc, ciiu_section asc nulls last
    )
),

cutoff as (
    select
        age_order,
        case
            when max(small_cells) = 0 then 0
            else min(pos) filter (where pos >= small_cells and pool_debtors >= $min_cell_taxpayers)
        end as pooled
    from ordered
    group by age_order
),

placed as (
    select
        o.*,
        case
            when c.pooled is null then 'buckets_pool'
            when o.pos <= c.pooled then 'bucket_pool'
            else 'cell'
        end as placement
    from ordered as o
    inner join cutoff as c on o.age_order = c.age_order
),

buckets_pool as (
    select
        count(distinct b.nit) as debtors,
        count(*) as returns,
        sum(b.outstanding) as outstanding,
        sum(b.balance_due) as balance_due,
        (
            select count(*) from placed as q
            where q.placement = 'buckets_pool'
        ) as cells
    from bucketed as b
    inner join placed as p
        on b.age_order = p.age_order and b.ciiu_section is not distinct from p.ciiu_section
    where p.placement = 'buckets_pool'
    having count(*) > 0
),

published as (
    select
        age_order,
        ciiu_section,
        debtors,
        returns,
        outstanding,
        balance_due,
        0 as pooled_cells
    from placed
    where placement = 'cell'
    union all
    select
        age_order,
        '*' as ciiu_section,
        sum(debtors) as debtors,
        sum(returns) as returns,
        sum(outstanding) as outstanding,
        sum(balance_due) as balance_due,
        count(*) as pooled_cells
    from placed
    where placement = 'bucket_pool'
    group by age_order
    union all
    select
        null as age_order,
        '*' as ciiu_section,
        debtors,
        returns,
        case when debtors >= $min_cell_taxpayers then outstanding end as outstanding,
        case when debtors >= $min_cell_taxpayers then balance_due end as balance_due,
        cells as pooled_cells
    from buckets_pool
)

select
    case age_order
        when 1 then '0-1'
        when 2 then '1-2'
        when 3 then '2-3'
        when 4 then '3-5'
        when 5 then '5+'
        else '*'
    end as age_bucket,
    cast(age_order as integer) as age_order,
    ciiu_section,
    cast(case when debtors >= $min_cell_taxpayers then debtors end as integer) as debtors,
    cast(case when debtors >= $min_cell_taxpayers then returns end as integer) as returns,
    cast(outstanding as double) as outstanding,
    cast(balance_due as double) as balance_due,
    cast(outstanding / nullif(balance_due, 0) as double) as unpaid_share,
    coalesce(age_order = 5, false) as likely_prescribed,
    cast(pooled_cells as integer) as pooled_cells
from published
order by age_order asc nulls last, ciiu_section asc nulls last;
