-- A file mostly quarantined stops the publication: for each file of this source still in the
-- landing folder ($files), its latest load may quarantine at most $max_quarantine_share of its rows. The
-- detail names each such file, its share and its three most common reasons (values shown as
-- '…', so one reason with many values counts once).
with latest as (
    select
        batch_id,
        file,
        rows_read,
        rows_quarantined
    from ops.load_log
    where source = $source and status = 'loaded' and list_contains($files, file)
    qualify row_number() over (partition by file order by batch_id desc) = 1
),

bad as (
    select
        batch_id,
        file,
        rows_read,
        rows_quarantined / rows_read as share
    from latest
    where rows_read > 0 and rows_quarantined / rows_read > $max_quarantine_share
),

reasons as (
    select
        q.batch_id,
        regexp_replace(r.reason, '''[^'']*''', '''…''', 'g') as reason,
        count(*) as n
    from ops.quarantine as q
    inner join bad as b on q.batch_id = b.batch_id
    cross join unnest(string_split(q.reason, '; ')) as r (reason)
    group by all
),

ranked as (
    select
        batch_id,
        reason,
        n,
        row_number() over (partition by batch_id order by n desc, reason asc) as rank
    from reasons
),

top_reasons as (
    select
        batch_id,
        string_agg(reason || ' (' || n || ')', '; ' order by rank) as top
    from ranked
    where rank <= 3
    group by batch_id
),

limits as (
    select round(100 * $max_quarantine_share, 1) || ' %' as shown
)

select
    count(b.file) = 0 as passed,
    coalesce(max(b.share), 0)::double as observed,
    coalesce(
        string_agg(
            b.file || ': ' || round(100 * b.share, 1) || ' % of ' || b.rows_read
            || ' rows quarantined (max_quarantine_share ' || l.shown || '); most common: '
            || coalesce(t.top, ''),
            ' | ' order by b.file
        ),
        'no file of ' || $source || ' has more than ' || any_value(l.shown)
        || ' of its rows quarantined'
    ) as detail
from limits as l
left join bad as b on true
left join top_reasons as t on b.batch_id = t.batch_id;
