-- An audit list that comes out empty, or with fewer than $min_list_share of the cases it had at
-- the last run that passed this check, means something upstream broke (an as-of date pushed
-- past the data by a typo closes every statute window; a truncated export empties a source):
-- the run fails here instead of handing inspectors an empty list. $min_list_share = 0 accepts
-- the lists as they are (and records them as the new reference).
with params as (
    select $min_list_share::double as share
),

programs as (
    select unnest($programs) as program
),

current_sizes as (
    select
        p.program,
        count(r.nit) as cases
    from programs as p
    left join marts.audit_ranking as r on p.program = r.program
    group by p.program
),

previous_sizes as (
    select
        program,
        cases
    from ops.audit_list_sizes
    where seq = (select max(s.seq) from ops.audit_list_sizes as s)
),

judged as (
    select
        c.program,
        c.cases,
        p.cases as before,
        s.share > 0
        and (c.cases = 0 or c.cases < s.share * coalesce(p.cases, 0)) as broken
    from current_sizes as c
    cross join params as s
    left join previous_sizes as p on c.program = p.program
)

select
    count(*) filter (where j.broken) = 0 as passed,
    coalesce(min(j.cases::double / nullif(j.before, 0)), 1.0) as observed,
    case
        when count(*) filter (where j.broken) = 0
            then
                'audit lists: '
                || string_agg(j.program || ' ' || j.cases, ', ' order by j.program)
        else
            string_agg(
                j.program || ' list has ' || j.cases || ' cases'
                || coalesce(' (previous run: ' || j.before || ')', ''),
                '; ' order by j.program
            ) filter (where j.broken)
            || ': below ' || round(100 * $min_list_share)::integer
            || ' % of the previous run'
            || ' or empty, as-of date '
            || coalesce((select a.as_of::varchar from staging.as_of_date as a), '?')
            || '. Check the as-of date (staging.as_of_date) and the files loaded last'
            || ' (ops.load_log); if the change is real, run once with'
            || ' FISCAL_INTEL_MIN_LIST_SHARE=0'
    end as detail
from judged as j;
