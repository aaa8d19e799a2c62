-- Money in other units than pesos, undeclared: for the same NITs, a figure of one source against
-- a figure of another that should be of a similar size (registry assets and withholding bases
-- against declared income, payments against declared tax). When the median ratio is off by a
-- power of ten of 100 or more (1,000: an export in thousands of pesos), the check fails naming
-- the source and the likely factor. Needs $min_nits NITs in common to say anything.
with returns as (
    select
        nit,
        tax_year,
        gross_income,
        total_tax
    from staging.stg_declarations
    where gross_income > 0
),

latest_income as (
    select
        nit,
        arg_max(gross_income, tax_year) as gross_income
    from returns
    group by nit
),

bases as (
    select
        nit,
        tax_year,
        sum(base_amount) as base_amount
    from staging.stg_withholdings
    group by nit, tax_year
    having sum(base_amount) > 0
),

paid as (
    select
        nit,
        tax_year,
        sum(amount) as amount
    from staging.stg_payments
    group by nit, tax_year
    having sum(amount) > 0
),

ratios as (
    select
        'commerce_registry' as source,
        'total_assets' as source_column,
        'declarations.gross_income' as against,
        log10(r.total_assets / i.gross_income) as log_ratio
    from staging.stg_commerce_registry as r
    inner join latest_income as i on r.nit = i.nit
    where r.total_assets > 0
    union all
    select
        'withholdings' as source,
        'base_amount' as source_column,
        'declarations.gross_income' as against,
        log10(w.base_amount / d.gross_income) as log_ratio
    from bases as w
    inner join returns as d on w.nit = d.nit and w.tax_year = d.tax_year
    union all
    select
        'payments' as source,
        'amount' as source_column,
        'declarations.total_tax' as against,
        log10(p.amount / d.total_tax) as log_ratio
    from paid as p
    inner join returns as d on p.nit = d.nit and p.tax_year = d.tax_year
    where d.total_tax > 0
),

pairs as (
    select
        source,
        source_column,
        against,
        count(*) as nits,
        median(log_ratio) as log_ratio
    from ratios
    group by source, source_column, against
    having count(*) >= $min_nits
),

flagged as (
    select
        *,
        power(10, round(abs(log_ratio)))::bigint as factor
    from pairs
    where abs(log_ratio) >= 2
)

select
    count(*) = 0 as passed,
    coalesce(max(abs(log_ratio)), 0)::double as observed,
    coalesce(
        string_agg(
            source || '.' || source_column || ' is about ' || format('{:,}', factor)
            || ' times ' || case when log_ratio < 0 then 'smaller' else 'larger' end
            || ' than ' || against || ' for the same NITs (median ratio '
            || printf('%.3g', power(10, log_ratio)) || ' over ' || nits || ' NITs): '
            || case
                when log_ratio < 0
                    then
                        'if ' || source || ' is in thousands of pesos, declare [units] '
                        || source_column || ' = ' || factor || ' in its mapping'
                else
                    'if ' || split_part(against, '.', 1) || ' is in thousands of pesos, '
                    || 'declare [units] ' || split_part(against, '.', 2) || ' = ' || factor
                    || ' in its mapping'
            end,
            ' | ' order by source
        ),
        'figures of the same NITs agree across sources within a factor of 100'
    ) as detail
from flagged;
