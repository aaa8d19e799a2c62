-- Audit cases in progress on the as-of date (opened by then, not closed by then), for the head
-- of the office: how long each has been open and how many days its statute has left. A case in
-- progress is out of the audit lists and is not a label until it closes. The statute is the
-- one the lists use: for a return 3 years from the filing deadline (from the filing when it
-- was late), for a non-filer 5 years from the deadline; acts of the audit that suspend it are
-- not in the data, so days_left is what remains if nothing suspended it. Soonest expiry first.
create or replace table marts.cases_in_progress as
with as_of as (
    select as_of from staging.as_of_date
),

open_cases as (
    select a.*
    from staging.stg_audits as a
    cross join as_of as o
    where a.opened_on <= o.as_of and (a.closed_on is null or a.closed_on > o.as_of)
),

statute as (
    select
        c.case_id,
        (
            case
                when c.program = 'omiso'
                    then
                        make_date(c.tax_year::int + 1, $filing_deadline_month, $filing_deadline_day)
                        + to_years($statute_years_omiso)
                else
                    greatest(
                        r.first_filed_on,
                        make_date(c.tax_year::int + 1, $filing_deadline_month, $filing_deadline_day)
                    )
                    + to_years($statute_years_filed)
            end
        )::date as statute_expires_on
    from open_cases as c
    left join features.known_returns as r on c.nit = r.nit and c.tax_year = r.tax_year
)

select
    c.case_id,
    c.nit,
    e.legal_name,
    cast(c.tax_year as integer) as tax_year,
    c.program,
    c.selection,
    c.opened_on,
    cast(datediff('day', c.opened_on, o.as_of) as integer) as days_open,
    s.statute_expires_on,
    cast(datediff('day', o.as_of, s.statute_expires_on) as integer) as days_left
from open_cases as c
inner join statute as s on c.case_id = s.case_id
left join staging.stg_entities as e on c.nit = e.nit
cross join as_of as o
order by days_left, c.case_id;
