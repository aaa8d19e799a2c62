-- A source that glues the DV onto the NIT without saying so: among its 10-digit NITs (none has
-- a DV after a dash once loaded), the share whose last digit is the check digit of the nine
-- before it. By chance that is 1 in 11; far above it (half or more, over at least 10 NITs), the
-- check fails and suggests [nit] dv_suffix = true in the source's mapping.
-- The nine digits and their remainder are columns, each read by the next macro: fi_nit_dv over
-- left(nit, 9)::bigint inlines that expression ~45 times, and planning it was most of the
-- check's cost (~13 ms a source for a few hundred NITs). The same digits.
with tens as (
    select distinct
        nit,
        left(nit, 9)::bigint as body
    from query_table($raw_table)
    where length(nit) = 10
),

remainders as (
    select
        nit,
        fi_nit_dv_remainder(body) as remainder
    from tens
),

tested as (
    select
        count(*) as nits,
        count(*) filter (where right(nit, 1)::int = fi_nit_dv_of_remainder(remainder)) as matching
    from remainders
)

select
    not(nits >= 10 and matching >= 0.5 * nits) as passed,
    coalesce(matching / nullif(nits, 0), 0)::double as observed,
    case
        when nits >= 10 and matching >= 0.5 * nits
            then
                $source || ': ' || matching || ' of ' || nits || ' ten-digit NITs ('
                || round(100 * matching / nits) || ' %) end in the check digit of the nine digits '
                || 'before it (by chance: 1 in 11): the export seems to glue the DV onto the NIT; '
                || 'declare [nit] dv_suffix = true in the mapping of ' || $source
        else
            $source || ': ' || matching || ' of ' || nits
            || ' ten-digit NITs end in their own check digit (by chance: 1 in 11)'
    end as detail
from tested;
