-- ICA collected per month of payment and CIIU section of the payer's main activity.
-- Tax secrecy (ET art. 583), as statistical offices protect magnitude tables (README, "Tax
-- secrecy"):
-- * closed periods only: the month of the as-of date is published once it has ended, so the
--   nightly payments into an open month are never shown one by one;
-- * primary suppression: a cell paid by fewer than $min_cell_taxpayers taxpayers, or dominated
--   under the p % rule ($dominance_p_percent, macro fi_dominated), is not shown on its own;
-- * secondary suppression: within a month the sensitive cells are pooled into one row with
--   ciiu_section '*', together with the next-smallest cells until the pool has two cells or
--   more, enough payers and is not dominated itself: the month's total (its rows' sum) minus
--   the shown cells gives only the pool, never one sensitive cell;
-- * a month that cannot be made safe even whole joins one pool of such months (month null),
--   withheld when that pool is itself too small or dominated; so that a year's published total
--   minus its shown months does not give that one month, the year's smallest months join it
--   until the year's share of the pool is safe too;
-- * amounts are rounded to $secrecy_rounding_cop (macro fi_published), so a late payment into
--   a closed month does not show to the peso between two releases.
-- Pools keep every peso: before rounding the mart adds up to the payments of the closed months.
create or replace table marts.revenue_monthly as
with paid as (
    select
        cast(date_trunc('month', p.paid_on) as date) as month,
        e.ciiu_section,
        p.nit,
        p.amount
    from staging.stg_payments as p
    left join staging.stg_entities as e on p.nit = e.nit
    cross join staging.as_of_date as a
    where p.paid_on < date_trunc('month', a.as_of + interval 1 day)
),

contributions as (
    -- Each payer's total in a cell: the unit the dominance rule weighs.
    select
        month,
        ciiu_section,
        nit,
        sum(amount) as amount
    from paid
    group by all
),

cells as (
    select
        month,
        ciiu_section,
        sum(amount) as collected,
        count(*) as payers,
        list(amount order by amount desc)[1:2] as top
    from contributions
    group by all
),

ordered as (
    -- A payer has one main activity, so the cells of a month are disjoint and the payers of a
    -- pool are the sum of its cells' payers. Sensitive cells first (the fewest payers leading),
    -- then the others from the smallest: a pool hides as little as it must.
    select
        *,
        count(*) filter (where sensitive) over (partition by month) as sensitive_cells,
        row_number() over (
            partition by month
            order by sensitive desc, payers asc, collected asc, ciiu_section asc nulls last
        ) as pos
    from (
        select
            *,
            payers < $min_cell_taxpayers
            or fi_dominated(collected, top[1], top[2], $dominance_p_percent) as sensitive
        from cells
    ) as flagged
),

pools as (
    -- Every candidate pool of a month: its first `pos` cells, with their payers, amount and
    -- two largest contributions (the largest two of the cells' own largest two).
    select
        a.month,
        a.pos,
        a.sensitive_cells,
        sum(b.payers) as payers,
        sum(b.collected) as collected,
        list_sort(flatten(list(b.top)), 'DESC')[1:2] as top
    from ordered as a
    inner join ordered as b on a.month = b.month and a.pos >= b.pos
    group by a.month, a.pos, a.sensitive_cells
),

cutoff as (
    -- How many of a month's first cells go to its pool; null: no pool of the month is safe.
    select
        month,
        case
            when max(sensitive_cells) = 0 then 0
            else
                min(pos) filter (
                    where
                    pos >= sensitive_cells
                    and pos >= 2
                    and payers >= $min_cell_taxpayers
                    and not fi_dominated(collected, top[1], top[2], $dominance_p_percent)
                )
        end as pooled
    from pools
    group by month
),

year_order as (
    -- A year's total is published (revenue_forecast, audit_yield): minus its shown months it
    -- gives the year's share of the pool of months. Months no pool can make safe come first,
    -- then the year's other months from the smallest, as for the cells of a month.
    select
        *,
        count(*) filter (where hidden) over (partition by year) as hidden_months,
        row_number() over (
            partition by year order by hidden desc, collected asc, month asc
        ) as ypos
    from (
        select
            c.month,
            year(c.month) as year,
            c.pooled is null as hidden,
            sum(o.collected) as collected
        from cutoff as c
        inner join ordered as o on c.month = o.month
        group by c.month, c.pooled
    ) as months
),

year_pools as (
    -- Candidate hidden sets of the years that have a month to hide: a payer may pay in
    -- several of the months, so its contribution is its total over them.
    select
        year,
        ypos,
        count(*) >= $min_cell_taxpayers
        and not fi_dominated(
            sum(amount), max(amount), list(amount order by amount desc)[2], $dominance_p_percent
        ) as safe
    from (
        select
            a.year,
            a.ypos,
            x.nit,
            sum(x.amount) as amount
        from year_order as a
        inner join year_order as b on a.year = b.year and a.ypos >= b.ypos
        inner join contributions as x on b.month = x.month
        where a.hidden_months > 0 and a.ypos >= a.hidden_months
        group by all
    ) as shares
    group by year, ypos
),

year_cutoff as (
    -- How many of a year's first months are hidden; no safe set: all of them.
    select
        y.year,
        coalesce(
            min(p.ypos) filter (where p.safe),
            max(y.ypos)
        ) as hidden_upto
    from year_order as y
    left join year_pools as p on y.year = p.year and y.ypos = p.ypos
    where y.hidden_months > 0
    group by y.year
),

placed as (
    select
        o.*,
        case
            when y.ypos <= coalesce(yc.hidden_upto, 0) then 'months_pool'
            when o.pos <= c.pooled then 'month_pool'
            else 'cell'
        end as placement
    from ordered as o
    inner join cutoff as c on o.month = c.month
    inner join year_order as y on o.month = y.month
    left join year_cutoff as yc on y.year = yc.year
),

months_pool as (
    select
        count(distinct p.nit) as payers,
        sum(p.amount) as collected,
        max(p.amount) as top1,
        min(p.amount) filter (where p.rank_in_pool = 2) as top2,
        (
            select count(*) from placed as q
            where q.placement = 'months_pool'
        ) as cells
    from (
        -- A payer may pay in several pooled months: weigh its total in the pool.
        select
            x.nit,
            sum(x.amount) as amount,
            row_number() over (order by sum(x.amount) desc, x.nit asc) as rank_in_pool
        from contributions as x
        inner join placed as c
            on x.month = c.month and x.ciiu_section is not distinct from c.ciiu_section
        where c.placement = 'months_pool'
        group by x.nit
    ) as p
    having count(*) > 0
)

select
    month,
    ciiu_section,
    cast(fi_published(collected, $secrecy_rounding_cop) as double) as collected,
    cast(payers as integer) as payers,
    0 as pooled_cells
from placed
where placement = 'cell'

union all

select
    month,
    '*' as ciiu_section,
    cast(fi_published(sum(collected), $secrecy_rounding_cop) as double) as collected,
    cast(sum(payers) as integer) as payers,
    cast(count(*) as integer) as pooled_cells
from placed
where placement = 'month_pool'
group by month

union all

select
    null as month,
    '*' as ciiu_section,
    case
        when
            payers >= $min_cell_taxpayers
            and not fi_dominated(collected, top1, top2, $dominance_p_percent)
            then cast(fi_published(collected, $secrecy_rounding_cop) as double)
    end as collected,
    case when payers >= $min_cell_taxpayers then cast(payers as integer) end as payers,
    cast(cells as integer) as pooled_cells
from months_pool

order by month asc nulls last, ciiu_section asc nulls last;
