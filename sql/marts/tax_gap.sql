-- How much ICA goes unpaid, estimated from the random-audit sample (the control cases audits
-- pick at random, so their findings are unbiased for the population they were drawn from).
-- Per program, over the tax years the random audits cover:
--   mean_per_case     mean assessed per random audit (pooled over years in constant pesos of the
--                     last CPI year) × the cases of each year, back in that year's pesos;
--                     inexacto cases are current returns, omiso cases the year's non-filers
--                     (marts.compliance_yearly);
-- gap_share is the estimate over (tax declared on the covered years' returns + the estimate).
--   ratio_to_declared inexacto only: assessed per peso declared in the sample × the tax declared
--                     by the population (steadier when a few large taxpayers hold most of it).
-- 'total' adds omiso (mean_per_case) to each inexacto method. Intervals are 95 %, simple random
-- sampling with finite-population correction and Student's t (Cornish-Fisher approximation);
-- they understate the uncertainty when the sample holds few large taxpayers. Assessed amounts
-- are what audits found, so undetected evasion is not in the estimate: it is a lower bound.
-- Tax secrecy: no estimate from fewer than $min_cell_taxpayers random audits, nor from 1 to
-- $min_cell_taxpayers - 1 audits that found tax (the mean would reveal their sum).
create or replace table marts.tax_gap as
with as_of as (
    select as_of from staging.as_of_date
),

cpi as (
    -- Each tax year's price level over the last CPI year's (carried forward past it).
    select
        year as tax_year,
        cpi_dec / latest_cpi_dec as to_current
    from ref.cpi_by_year
),

sample as (
    select
        a.case_id,
        a.program,
        a.tax_year,
        a.assessed_amount as gap,
        coalesce(d.total_tax, 0) as declared,
        a.assessed_amount / p.to_current as gap_const
    from staging.stg_audits as a
    cross join as_of as o
    left join staging.stg_declarations as d on a.nit = d.nit and a.tax_year = d.tax_year
    left join cpi as p on a.tax_year = p.tax_year
    where a.selection = 'random' and a.closed_on <= o.as_of
),

covered as (
    select
        program,
        min(tax_year) as first_year,
        max(tax_year) as last_year
    from sample
    group by program
),

population_years as (
    select
        'inexacto' as program,
        d.tax_year,
        count(*) as cases,
        sum(d.total_tax) as declared
    from staging.stg_declarations as d
    inner join covered as c
        on c.program = 'inexacto' and d.tax_year between c.first_year and c.last_year
    group by d.tax_year
    union all
    select
        'omiso' as program,
        y.tax_year,
        y.non_filers as cases,
        y.declared_tax as declared
    from marts.compliance_yearly as y
    inner join covered as c
        on c.program = 'omiso' and y.tax_year between c.first_year and c.last_year
),

population as (
    select
        y.program,
        sum(y.cases) as cases,
        -- Cases weighted by each year's price level: mean (constant pesos) × this = nominal total.
        sum(y.cases * p.to_current order by y.tax_year) as cases_nominal_weight,
        sum(y.declared order by y.tax_year) as declared
    from population_years as y
    left join cpi as p on y.tax_year = p.tax_year
    group by y.program
),

sample_stats as (
    select
        program,
        count(*) as n,
        count(*) filter (where gap > 0) as adjusted,
        -- ordered: a parallel sum of doubles differs in its last bits from run to run
        avg(gap_const order by case_id) as mean_const,
        var_samp(gap_const order by case_id) as var_const,
        sum(gap order by case_id) / nullif(sum(declared order by case_id), 0) as ratio
    from sample
    group by program
),

ratio_residuals as (
    select
        s.program,
        var_samp(s.gap - t.ratio * s.declared order by s.case_id) as var_resid
    from sample as s
    inner join sample_stats as t on s.program = t.program
    group by s.program
),

estimates as (
    select
        s.program,
        'mean_per_case' as method,
        s.n,
        s.adjusted,
        p.cases,
        p.declared,
        s.mean_const * p.cases_nominal_weight as estimate,
        p.cases_nominal_weight * sqrt((1 - s.n / p.cases) * s.var_const / s.n) as std_error
    from sample_stats as s
    inner join population as p on s.program = p.program
    union all
    select
        s.program,
        'ratio_to_declared' as method,
        s.n,
        s.adjusted,
        p.cases,
        p.declared,
        s.ratio * p.declared as estimate,
        p.cases * sqrt((1 - s.n / p.cases) * r.var_resid / s.n) as std_error
    from sample_stats as s
    inner join population as p on s.program = p.program
    inner join ratio_residuals as r on s.program = r.program
    where s.program = 'inexacto'
),

released as (
    -- Only estimates the secrecy rule allows; totals are built from released parts only.
    select *
    from estimates
    where
        n >= $min_cell_taxpayers
        and (adjusted = 0 or adjusted >= $min_cell_taxpayers)
        and estimate is not null
),

with_totals as (
    select
        r.*,
        r.n as df_n,
        c.first_year,
        c.last_year
    from released as r
    inner join covered as c on r.program = c.program
    union all
    select
        'total' as program,
        i.method,
        i.n + o.n as n,
        i.adjusted + o.adjusted as adjusted,
        i.cases + o.cases as cases,
        i.declared,
        i.estimate + o.estimate as estimate,
        sqrt(i.std_error ^ 2 + o.std_error ^ 2) as std_error,
        least(i.n, o.n) as df_n,
        least(ci.first_year, co.first_year) as first_year,
        greatest(ci.last_year, co.last_year) as last_year
    from released as i
    inner join released as o on i.program = 'inexacto' and o.program = 'omiso'
    inner join covered as ci on ci.program = 'inexacto'
    inner join covered as co on co.program = 'omiso'
    where o.method = 'mean_per_case'
),

with_t as (
    -- Student's t quantile (97.5 %) by the Cornish-Fisher expansion around the normal one
    -- (within 0.1 % from 4 degrees of freedom on); totals use the smaller sample's.
    select
        *,
        z
        + (z ^ 3 + z) / (4 * df)
        + (5 * z ^ 5 + 16 * z ^ 3 + 3 * z) / (96 * df ^ 2)
        + (3 * z ^ 7 + 19 * z ^ 5 + 17 * z ^ 3 - 15 * z) / (384 * df ^ 3)
        + (79 * z ^ 9 + 776 * z ^ 7 + 1482 * z ^ 5 - 1920 * z ^ 3 - 945 * z) / (92160 * df ^ 4)
            as t975
    from (
        select
            *,
            df_n - 1 as df,
            1.959964 as z
        from with_totals
    ) as w
)

select
    program,
    method,
    cast(first_year as integer) as first_year,
    cast(last_year as integer) as last_year,
    cast(n as integer) as sample_cases,
    cast(adjusted as integer) as sample_adjusted,
    cast(cases as integer) as population_cases,
    cast(estimate as double) as estimate,
    cast(greatest(0, estimate - std_error * t975) as double) as lower_95,
    cast(estimate + std_error * t975 as double) as upper_95,
    cast(estimate / nullif(cases, 0) as double) as mean_gap_per_case,
    cast(estimate / (last_year - first_year + 1) as double) as annual_gap,
    cast(declared as double) as declared_tax,
    cast(estimate / nullif(declared + estimate, 0) as double) as gap_share
from with_t
order by
    case program when 'inexacto' then 1 when 'omiso' then 2 else 3 end,
    method;
