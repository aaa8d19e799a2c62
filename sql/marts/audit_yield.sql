-- What enforcement brought in, per calendar year and audit program, and how much of the year's
-- collection grew without it. Per program: audits closed that year (random ones apart), those
-- that assessed tax, the tax assessed, and the enforcement collection: payments made that year
-- for a taxpayer and tax year already under audit (opened on or before the payment). The
-- 'total' row adds all ICA collected that year, the organic part (collected minus enforcement)
-- and its growth on the previous year, nominal and real (DANE CPI, ref.cpi_deflator), given only
-- between complete calendar years.
-- Tax secrecy (ET art. 583): a figure built from 1 to $min_cell_taxpayers - 1 taxpayers is null,
-- and then so is the same figure of the other program that year (else total minus the other
-- would reveal it). When the year's enforcement collection is hidden, it stays inside organic
-- (enforcement_in_organic true) rather than hiding the organic figure too.
create or replace table marts.audit_yield as
with as_of as (
    select as_of from staging.as_of_date
),

closed as (
    select
        cast(year(a.closed_on) as integer) as year,
        a.program,
        a.nit,
        a.selection = 'random' as is_random,
        a.outcome = 'adjusted' and a.assessed_amount > 0 as adjusted,
        a.assessed_amount
    from staging.stg_audits as a
    cross join as_of as o
    where a.closed_on <= o.as_of
),

under_audit as (
    -- The first audit opened on each taxpayer and tax year names the program.
    select
        nit,
        tax_year,
        program,
        opened_on
    from staging.stg_audits
    qualify row_number() over (partition by nit, tax_year order by opened_on, case_id) = 1
),

payments as (
    select
        cast(year(p.paid_on) as integer) as year,
        p.nit,
        p.amount,
        u.program as enforcement_program
    from staging.stg_payments as p
    cross join as_of as o
    left join under_audit as u
        on p.nit = u.nit and p.tax_year = u.tax_year and p.paid_on >= u.opened_on
    where p.paid_on <= o.as_of
),

years as (
    select year from closed
    union
    select year from payments
),

programs as (
    select
        y.year,
        p.program
    from years as y
    cross join (values ('omiso'), ('inexacto'), ('total')) as p (program)
),

audit_figures as (
    select
        y.year,
        y.program,
        count(c.nit) as cases_closed,
        count(distinct c.nit) as audited,
        count(c.nit) filter (where c.is_random) as random_cases,
        count(distinct c.nit) filter (where c.is_random) as audited_random,
        count(c.nit) filter (where c.adjusted) as adjusted_cases,
        count(distinct c.nit) filter (where c.adjusted) as audited_adjusted,
        coalesce(sum(c.assessed_amount), 0) as assessed
    from programs as y
    left join closed as c
        on y.year = c.year and (y.program = c.program or y.program = 'total')
    group by all
),

payment_figures as (
    select
        y.year,
        y.program,
        coalesce(sum(p.amount), 0) as enforcement_collected,
        count(distinct p.nit) as enforcement_payers
    from programs as y
    left join payments as p
        on
            y.year = p.year
            and p.enforcement_program is not null
            and (y.program = p.enforcement_program or y.program = 'total')
    group by all
),

month_payers as (
    select
        date_trunc('month', paid_on) as month,
        count(distinct nit) as payers
    from staging.stg_payments
    group by all
),

small_months as (
    -- revenue_monthly pools months paid by too few taxpayers: a year's total minus its shown
    -- months would reveal its share of that pool, so that share needs enough payers too.
    select
        cast(year(p.paid_on) as integer) as year,
        count(distinct p.nit) as payers
    from staging.stg_payments as p
    inner join month_payers as m on date_trunc('month', p.paid_on) = m.month
    where m.payers < $min_cell_taxpayers
    group by all
),

collected as (
    select
        p.year,
        sum(p.amount) as collected,
        -- Too few payers in the year, or in its small months: the year's total stays hidden.
        case
            when coalesce(any_value(s.payers), 0) between 1 and $min_cell_taxpayers - 1 then 0
            else count(distinct p.nit)
        end as payers
    from payments as p
    left join small_months as s on p.year = s.year
    group by p.year
),

figures as (
    select
        a.*,
        f.enforcement_collected,
        f.enforcement_payers,
        -- A figure is small when built from 1 to threshold - 1 taxpayers.
        a.audited between 1 and $min_cell_taxpayers - 1 as small_cases,
        a.audited_random between 1 and $min_cell_taxpayers - 1 as small_random,
        a.audited_adjusted between 1 and $min_cell_taxpayers - 1 as small_adjusted,
        f.enforcement_payers between 1 and $min_cell_taxpayers - 1 as small_enforcement
    from audit_figures as a
    inner join payment_figures as f on a.year = f.year and a.program = f.program
),

hidden as (
    -- Complementary suppression: a small program figure hides the same figure of both programs.
    select
        *,
        small_cases or (
            program != 'total'
            and bool_or(small_cases) filter (where program != 'total') over (partition by year)
        ) as hide_cases,
        small_random or (
            program != 'total'
            and bool_or(small_random) filter (where program != 'total') over (partition by year)
        ) as hide_random,
        small_adjusted or (
            program != 'total'
            and bool_or(small_adjusted) filter (where program != 'total') over (partition by year)
        ) as hide_adjusted,
        small_enforcement or (
            program != 'total'
            and bool_or(small_enforcement) filter (where program != 'total')
                over (partition by year)
        ) as hide_enforcement
    from figures
),

totals as (
    select
        h.year,
        c.collected,
        c.payers,
        h.hide_enforcement,
        c.collected - case when h.hide_enforcement then 0 else h.enforcement_collected end
            as organic_collected,
        make_date(h.year, 12, 31) <= o.as_of as complete_year
    from hidden as h
    cross join as_of as o
    left join collected as c on h.year = c.year
    where h.program = 'total'
),

total_growth as (
    select
        t.*,
        t.collected / nullif(prev.collected, 0) - 1 as collected_growth,
        t.organic_collected / nullif(prev.organic_collected, 0) - 1 as organic_growth,
        (t.organic_collected / nullif(prev.organic_collected, 0)) / (1 + cpi.inflation_dec_pct / 100)
        - 1 as organic_growth_real
    from totals as t
    left join totals as prev
        on
            prev.year = t.year - 1
            and t.complete_year
            and prev.complete_year
            and prev.payers >= $min_cell_taxpayers
    left join ref.cpi_deflator as cpi on t.year = cpi.year
)

select
    h.year,
    h.program,
    cast(case when not h.hide_cases then h.cases_closed end as integer) as cases_closed,
    cast(case when not h.hide_random then h.random_cases end as integer) as random_cases,
    cast(case when not h.hide_adjusted then h.adjusted_cases end as integer) as adjusted_cases,
    cast(
        case
            when not h.hide_cases and not h.hide_adjusted
                then h.adjusted_cases / nullif(h.cases_closed, 0)
        end as double
    ) as hit_rate,
    cast(case when not h.hide_adjusted then h.assessed end as double) as assessed,
    cast(
        case when not h.hide_adjusted then h.assessed / nullif(h.adjusted_cases, 0) end as double
    ) as assessed_per_adjusted_case,
    cast(case when not h.hide_enforcement then h.enforcement_collected end as double)
        as enforcement_collected,
    cast(case when not h.hide_enforcement then h.enforcement_payers end as integer)
        as enforcement_payers,
    cast(
        case when t.payers >= $min_cell_taxpayers then t.collected end as double
    ) as collected,
    cast(
        case when t.payers >= $min_cell_taxpayers then t.organic_collected end as double
    ) as organic_collected,
    t.hide_enforcement as enforcement_in_organic,
    cast(case when t.payers >= $min_cell_taxpayers then t.collected_growth end as double)
        as collected_growth,
    cast(case when t.payers >= $min_cell_taxpayers then t.organic_growth end as double)
        as organic_growth,
    cast(case when t.payers >= $min_cell_taxpayers then t.organic_growth_real end as double)
        as organic_growth_real,
    t.complete_year
from hidden as h
left join total_growth as t on h.year = t.year and h.program = 'total'
order by h.year, case h.program when 'omiso' then 1 when 'inexacto' then 2 else 3 end;
