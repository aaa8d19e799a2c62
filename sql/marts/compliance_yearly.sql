-- Per tax year whose filing deadline has passed: who was obliged to file, who filed (on time or
-- late), who did not, what third parties saw of the non-filers' income, and an estimate of the
-- tax the non-filers owe. Obliged follows the omiso program's rule, on staging data: registered
-- in the RIT by the end of the year (active now, or still filing then), an open local chamber
-- registration during the year, paid by reteICA agents that year, or filed a return.
-- The non-filer tax estimate scales the mean assessed per random omiso audit (the unbiased
-- sample, pooled over years in constant pesos of the latest CPI year, ref.cpi_deflator) to the
-- year's non-filers, back in that year's pesos. Tax secrecy: a figure built from 1 to
-- $min_cell_taxpayers - 1 taxpayers is null (the estimate also needs that many random audits,
-- and none or that many with tax assessed, since the mean would reveal their sum).
create or replace table marts.compliance_yearly as
with as_of as (
    select as_of from staging.as_of_date
),

returns as (
    select
        d.nit,
        d.tax_year,
        d.first_filed_on,
        d.total_tax
    from staging.stg_declarations as d
    cross join as_of as a
    where d.first_filed_on <= a.as_of
),

third_party as (
    select
        nit,
        tax_year,
        sum(base_amount) as base_amount
    from staging.stg_withholdings
    group by all
),

span as (
    select
        min(tax_year) as first_year,
        max(tax_year) as last_year
    from (
        select tax_year from returns
        union all
        select tax_year from third_party
        union all
        select tax_year from staging.stg_audits
    ) as observed
),

years_due as (
    select
        cast(y.tax_year as integer) as tax_year,
        make_date(cast(y.tax_year as integer) + 1, $filing_deadline_month, $filing_deadline_day) as deadline
    from (
        select unnest(range(first_year, last_year + 1)) as tax_year
        from span
    ) as y
    cross join as_of as a
    where make_date(cast(y.tax_year as integer) + 1, $filing_deadline_month, $filing_deadline_day) < a.as_of
),

last_filing as (
    select
        nit,
        max(tax_year) as last_filed_year
    from returns
    group by nit
),

obliged as (
    select
        t.nit,
        y.tax_year
    from staging.stg_taxpayers as t
    inner join years_due as y on t.registered_on <= make_date(y.tax_year, 12, 31)
    left join last_filing as l on t.nit = l.nit
    where t.status = 'active' or y.tax_year <= l.last_filed_year
    union
    select
        r.nit,
        y.tax_year
    from staging.stg_commerce_registry as r
    inner join years_due as y
        on
            r.registered_on <= make_date(y.tax_year, 12, 31)
            and (r.cancelled_on is null or r.cancelled_on >= make_date(y.tax_year, 1, 1))
    where r.is_local and r.nit is not null
    union
    select
        w.nit,
        w.tax_year
    from third_party as w
    inner join years_due as y on w.tax_year = y.tax_year
    where w.base_amount > 0
    union
    select
        r.nit,
        r.tax_year
    from returns as r
    inner join years_due as y on r.tax_year = y.tax_year
),

status as (
    select
        o.tax_year,
        y.deadline,
        r.nit is not null as filed,
        r.first_filed_on <= y.deadline as on_time,
        r.total_tax,
        coalesce(w.base_amount, 0) as base_seen
    from obliged as o
    inner join years_due as y on o.tax_year = y.tax_year
    left join returns as r on o.nit = r.nit and o.tax_year = r.tax_year
    left join third_party as w on o.nit = w.nit and o.tax_year = w.tax_year
),

counts as (
    select
        tax_year,
        any_value(deadline) as deadline,
        count(*) as obliged,
        count(*) filter (where filed) as filers,
        count(*) filter (where on_time) as on_time,
        count(*) filter (where filed and not on_time) as late,
        count(*) filter (where not filed) as non_filers,
        count(*) filter (where not filed and base_seen > 0) as non_filers_seen,
        coalesce(sum(base_seen) filter (where not filed), 0) as non_filer_income_seen,
        coalesce(sum(total_tax), 0) as declared_tax
    from status
    group by tax_year
),

random_omiso as (
    -- Mean assessed per random omiso audit closed by the as-of date, in pesos of the last CPI year.
    select
        count(*) as audits,
        count(*) filter (where a.assessed_amount > 0) as adjusted,
        -- ordered: a parallel sum of doubles differs in its last bits from run to run
        avg(a.assessed_amount * c.latest_cpi_dec / c.cpi_dec order by a.case_id)
            as mean_assessed_const
    from staging.stg_audits as a
    cross join as_of as o
    -- the index of any tax year, carried forward past the last published one
    inner join ref.cpi_by_year as c on a.tax_year = c.year
    where a.program = 'omiso' and a.selection = 'random' and a.closed_on <= o.as_of
),

guarded as (
    select
        k.*,
        r.audits as random_omiso_audits,
        r.adjusted as random_omiso_adjusted,
        k.non_filers * r.mean_assessed_const * c.cpi_dec / c.latest_cpi_dec
            as non_filer_tax_estimate
    from counts as k
    cross join random_omiso as r
    left join ref.cpi_by_year as c on k.tax_year = c.year
)

select
    cast(tax_year as integer) as tax_year,
    deadline as filing_deadline,
    cast(case when obliged >= $min_cell_taxpayers then obliged end as integer) as obliged,
    cast(case when filers = 0 or filers >= $min_cell_taxpayers then filers end as integer)
        as filers,
    cast(case when on_time = 0 or on_time >= $min_cell_taxpayers then on_time end as integer)
        as on_time,
    cast(case when late = 0 or late >= $min_cell_taxpayers then late end as integer) as late,
    cast(
        case when non_filers = 0 or non_filers >= $min_cell_taxpayers then non_filers end
        as integer
    ) as non_filers,
    cast(
        case
            when non_filers_seen = 0 or non_filers_seen >= $min_cell_taxpayers
                then non_filers_seen
        end as integer
    ) as non_filers_seen,
    cast(
        case
            when non_filers_seen = 0 or non_filers_seen >= $min_cell_taxpayers
                then non_filer_income_seen
        end as double
    ) as non_filer_income_seen,
    cast(case when filers = 0 or filers >= $min_cell_taxpayers then declared_tax end as double)
        as declared_tax,
    cast(
        case
            when obliged >= $min_cell_taxpayers and (filers = 0 or filers >= $min_cell_taxpayers)
                then filers / obliged
        end as double
    ) as filing_rate,
    cast(
        case
            when
                filers >= $min_cell_taxpayers
                and (on_time = 0 or on_time >= $min_cell_taxpayers)
                and (late = 0 or late >= $min_cell_taxpayers)
                then on_time / filers
        end as double
    ) as on_time_rate,
    cast(random_omiso_audits as integer) as random_omiso_audits,
    cast(
        case
            when
                random_omiso_audits >= $min_cell_taxpayers
                and (random_omiso_adjusted = 0 or random_omiso_adjusted >= $min_cell_taxpayers)
                and (non_filers = 0 or non_filers >= $min_cell_taxpayers)
                then non_filer_tax_estimate
        end as double
    ) as non_filer_tax_estimate
from guarded
order by tax_year;
