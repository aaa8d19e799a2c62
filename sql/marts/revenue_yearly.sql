-- Per tax year, CIIU section and comuna of the taxpayer: tax declared on current returns, money
-- collected for that year (whenever paid), filers and payers, the share of the declared balance
-- collected, and year-over-year growth of declared and collected tax, nominal and real (deflated
-- by DANE's December-on-December CPI inflation of the tax year, ref.cpi_deflator).
-- Tax secrecy (ET art. 583): a cell whose declared figures come from 1 to $min_cell_taxpayers - 1
-- filers, or whose collections come from that few payers, is pooled with its section's other
-- small comunas into one row (comuna '*'), adding the section's next-smallest comunas while the
-- pool is itself too small, so section totals stay whole; a section too small altogether joins
-- its year's pool (ciiu_section and comuna '*'), with the next-smallest sections while that pool
-- is too small; a year too small altogether joins one pool of such years (tax_year null),
-- withheld (amounts null) if that pool is still too small. Pools keep every peso, so the mart
-- adds up to the returns and payments loaded. Growth is only given between two published cells
-- (a growth rate over a hidden cell would reveal it).
create or replace table marts.revenue_yearly as
with declared as (
    select
        d.tax_year,
        d.nit,
        d.total_tax,
        d.balance_due
    from staging.stg_declarations as d
),

collected as (
    select
        tax_year,
        nit,
        sum(amount) as amount
    from staging.stg_payments
    group by all
),

taxpayer_years as (
    -- One row per taxpayer and tax year that filed or paid; a taxpayer has one section and comuna.
    select
        coalesce(d.tax_year, c.tax_year) as tax_year,
        coalesce(d.nit, c.nit) as nit,
        e.ciiu_section,
        e.comuna,
        d.total_tax,
        d.balance_due,
        c.amount as collected
    from declared as d
    full outer join collected as c on d.tax_year = c.tax_year and d.nit = c.nit
    left join staging.stg_entities as e on coalesce(d.nit, c.nit) = e.nit
),

cells as (
    select
        tax_year,
        ciiu_section,
        comuna,
        coalesce(sum(total_tax), 0) as declared_tax,
        coalesce(sum(balance_due), 0) as balance_due,
        coalesce(sum(collected), 0) as collected,
        count(total_tax) as filers,
        count(collected) as payers
    from taxpayer_years
    group by all
),

flagged as (
    select
        *,
        filers between 1 and $min_cell_taxpayers - 1
        or payers between 1 and $min_cell_taxpayers - 1 as small
    from cells
),

in_section as (
    -- First level: the comunas of a section and year, smallest first (the small ones lead).
    select
        *,
        count(*) filter (where small) over (partition by tax_year, ciiu_section) as small_cells,
        row_number() over w as pos,
        sum(filers) over (w rows between unbounded preceding and current row) as pool_filers,
        sum(payers) over (w rows between unbounded preceding and current row) as pool_payers
    from flagged
    window w as (
        partition by tax_year, ciiu_section
        order by
            small desc, greatest(filers, payers) asc, declared_tax asc, collected asc,
            comuna asc nulls last
    )
),

sections as (
    -- How many of a section's cells go to its pool: the small ones and as few more as it takes
    -- for the pool's filers and payers each to be none or at least the threshold (null: the
    -- whole section is too small, and goes to the year's pool), with the section's totals.
    select
        tax_year,
        ciiu_section,
        case
            when max(small_cells) = 0 then 0
            else min(pos) filter (
                where
                pos >= small_cells
                and (pool_filers = 0 or pool_filers >= $min_cell_taxpayers)
                and (pool_payers = 0 or pool_payers >= $min_cell_taxpayers)
            )
        end as pooled,
        sum(filers) as filers,
        sum(payers) as payers,
        sum(declared_tax) as declared_tax,
        sum(collected) as collected
    from in_section
    group by tax_year, ciiu_section
),

in_year as (
    -- Second level: whole sections of a year, those too small first.
    select
        *,
        count(*) filter (where pooled is null) over (partition by tax_year) as small_sections,
        row_number() over w as section_pos,
        sum(filers) over (w rows between unbounded preceding and current row) as pool_filers,
        sum(payers) over (w rows between unbounded preceding and current row) as pool_payers
    from sections
    window w as (
        partition by tax_year
        order by
            pooled is null desc, greatest(filers, payers) asc, declared_tax asc, collected asc,
            ciiu_section asc nulls last
    )
),

years as (
    select
        tax_year,
        case
            when max(small_sections) = 0 then 0
            else min(section_pos) filter (
                where
                section_pos >= small_sections
                and (pool_filers = 0 or pool_filers >= $min_cell_taxpayers)
                and (pool_payers = 0 or pool_payers >= $min_cell_taxpayers)
            )
        end as pooled
    from in_year
    group by tax_year
),

placed as (
    select
        c.*,
        case
            when y.pooled is null then 'years_pool'
            when s.section_pos <= y.pooled then 'year_pool'
            when c.pos <= s.pooled then 'section_pool'
            else 'cell'
        end as placement
    from in_section as c
    inner join in_year as s
        on c.tax_year = s.tax_year and c.ciiu_section is not distinct from s.ciiu_section
    inner join years as y on c.tax_year = y.tax_year
),

years_pool as (
    select
        coalesce(sum(t.total_tax), 0) as declared_tax,
        coalesce(sum(t.balance_due), 0) as balance_due,
        coalesce(sum(t.collected), 0) as collected,
        count(distinct t.nit) filter (where t.total_tax is not null) as filers,
        count(distinct t.nit) filter (where t.collected is not null) as payers,
        (
            select count(*) from placed as q
            where q.placement = 'years_pool'
        ) as cells
    from taxpayer_years as t
    inner join placed as p
        on
            t.tax_year = p.tax_year
            and t.ciiu_section is not distinct from p.ciiu_section
            and t.comuna is not distinct from p.comuna
    where p.placement = 'years_pool'
    having count(*) > 0
),

published as (
    select
        tax_year,
        ciiu_section,
        comuna,
        declared_tax,
        balance_due,
        collected,
        filers,
        payers,
        0 as pooled_cells
    from placed
    where placement = 'cell'

    union all

    select
        tax_year,
        ciiu_section,
        '*' as comuna,
        sum(declared_tax) as declared_tax,
        sum(balance_due) as balance_due,
        sum(collected) as collected,
        sum(filers) as filers,
        sum(payers) as payers,
        count(*) as pooled_cells
    from placed
    where placement = 'section_pool'
    group by tax_year, ciiu_section

    union all

    select
        tax_year,
        '*' as ciiu_section,
        '*' as comuna,
        sum(declared_tax) as declared_tax,
        sum(balance_due) as balance_due,
        sum(collected) as collected,
        sum(filers) as filers,
        sum(payers) as payers,
        count(*) as pooled_cells
    from placed
    where placement = 'year_pool'
    group by tax_year

    union all

    -- Withheld (nulls) when even the pool of small years comes from too few taxpayers.
    select
        null as tax_year,
        '*' as ciiu_section,
        '*' as comuna,
        case when publishable then declared_tax end as declared_tax,
        case when publishable then balance_due end as balance_due,
        case when publishable then collected end as collected,
        case when publishable then filers end as filers,
        case when publishable then payers end as payers,
        cells as pooled_cells
    from (
        select
            *,
            (filers = 0 or filers >= $min_cell_taxpayers)
            and (payers = 0 or payers >= $min_cell_taxpayers) as publishable
        from years_pool
    ) as pool
),

with_previous as (
    select
        cur.*,
        prev.declared_tax as prev_declared_tax,
        prev.collected as prev_collected,
        cpi.inflation_dec_pct
    from published as cur
    left join published as prev
        on
            cur.pooled_cells = 0
            and prev.pooled_cells = 0
            and prev.tax_year = cur.tax_year - 1
            and prev.ciiu_section is not distinct from cur.ciiu_section
            and prev.comuna is not distinct from cur.comuna
    left join ref.cpi_deflator as cpi on cur.tax_year = cpi.year
)

select
    cast(tax_year as integer) as tax_year,
    ciiu_section,
    comuna,
    cast(declared_tax as double) as declared_tax,
    cast(balance_due as double) as balance_due,
    cast(collected as double) as collected,
    cast(filers as integer) as filers,
    cast(payers as integer) as payers,
    cast(collected / nullif(balance_due, 0) as double) as collection_rate,
    cast(declared_tax / nullif(prev_declared_tax, 0) - 1 as double) as declared_growth,
    cast(
        (declared_tax / nullif(prev_declared_tax, 0)) / (1 + inflation_dec_pct / 100) - 1
        as double
    ) as declared_growth_real,
    cast(collected / nullif(prev_collected, 0) - 1 as double) as collected_growth,
    cast(
        (collected / nullif(prev_collected, 0)) / (1 + inflation_dec_pct / 100) - 1 as double
    ) as collected_growth_real,
    cast(pooled_cells as integer) as pooled_cells
from with_previous
order by tax_year asc nulls last, ciiu_section asc nulls last, comuna asc nulls last;
