-- Nothing lost: for every file of this source, rows read = rows loaded + rows quarantined, and
-- the raw table and the quarantine hold exactly what the load log says they received.
with logged as (
    select
        batch_id,
        file,
        rows_read,
        rows_loaded,
        rows_quarantined
    from ops.load_log
    where source = $source and status = 'loaded'
),

quarantined as (
    select
        batch_id,
        count(*) as n
    from ops.quarantine
    where source = $source
    group by batch_id
),

loaded as (
    select
        _batch_id as batch_id,
        count(*) as n
    from query_table($raw_table)
    group by _batch_id
),

mismatches as (
    select l.file
    from logged as l
    left join quarantined as q on l.batch_id = q.batch_id
    left join loaded as r on l.batch_id = r.batch_id
    where
        l.rows_read <> l.rows_loaded + l.rows_quarantined
        or coalesce(q.n, 0) <> l.rows_quarantined
        or coalesce(r.n, 0) <> l.rows_loaded
)

select
    count(*) = 0 as passed,
    count(*)::double as observed,
    count(*) || ' file(s) whose rows do not add up'
    || coalesce(': ' || string_agg(file, ', ' order by file), '') as detail
from mismatches;
