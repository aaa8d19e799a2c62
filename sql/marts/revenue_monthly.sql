-- ICA collected per month of payment and CIIU section of the payer's main activity.
-- Tax secrecy (ET art. 583): no cell paid by fewer than $min_cell_taxpayers taxpayers is shown
-- on its own. Within a month such cells are pooled into one row with ciiu_section '*' (and, when
-- that pool is itself too small, the next-smallest cells with it); a month paid by too few
-- taxpayers altogether joins one pool of such months (month null). Pools keep every peso, so the
-- mart still adds up to the payments loaded; only a pool of months that is itself too small is
-- withheld (collected null).
create or replace table marts.revenue_monthly as
with paid as (
    select
        cast(date_trunc('month', p.paid_on) as date) as month,
        e.ciiu_section,
        p.nit,
        p.amount
    from staging.stg_payments as p
    left join staging.stg_entities as e on p.nit = e.nit
),

cells as (
    select
        month,
        ciiu_section,
        sum(amount) as collected,
        count(distinct nit) as payers
    from paid
    group by all
),

ordered as (
    -- A payer has one main activity, so the cells of a month are disjoint and the payers of a
    -- pool are the sum of its cells' payers. Smallest cells first: the small ones lead.
    select
        *,
        count(*) filter (where payers < $min_cell_taxpayers) over (partition by month)
            as small_cells,
        row_number() over (
            partition by month order by payers asc, collected asc, ciiu_section asc nulls last
        ) as pos,
        sum(payers) over (
            partition by month order by payers asc, collected asc, ciiu_section asc nulls last
            rows between unbounded preceding and current row
        ) as pool_payers
    from cells
),

cutoff as (
    -- How many of a month's smallest cells go to its pool; null: the month is too small.
    select
        month,
        case
            when max(small_cells) = 0 then 0
            else min(pos) filter (where pos >= small_cells and pool_payers >= $min_cell_taxpayers)
        end as pooled
    from ordered
    group by month
),

placed as (
    select
        o.*,
        case
            when c.pooled is null then 'months_pool'
            when o.pos <= c.pooled then 'month_pool'
            else 'cell'
        end as placement
    from ordered as o
    inner join cutoff as c on o.month = c.month
),

months_pool as (
    select
        count(distinct p.nit) as payers,
        sum(p.amount) as collected,
        (
            select count(*) from placed as q
            where q.placement = 'months_pool'
        ) as cells
    from paid as p
    inner join placed as c
        on p.month = c.month and p.ciiu_section is not distinct from c.ciiu_section
    where c.placement = 'months_pool'
    having count(*) > 0
)

select
    month,
    ciiu_section,
    cast(collected as double) as collected,
    cast(payers as integer) as payers,
    0 as pooled_cells
from placed
where placement = 'cell'

union all

select
    month,
    '*' as ciiu_section,
    cast(sum(collected) as double) as collected,
    cast(sum(payers) as integer) as payers,
    cast(count(*) as integer) as pooled_cells
from placed
where placement = 'month_pool'
group by month

union all

select
    null as month,
    '*' as ciiu_section,
    case when payers >= $min_cell_taxpayers then cast(collected as double) end as collected,
    case when payers >= $min_cell_taxpayers then cast(payers as integer) end as payers,
    cast(cells as integer) as pooled_cells
from months_pool

order by month asc nulls last, ciiu_section asc nulls last;
