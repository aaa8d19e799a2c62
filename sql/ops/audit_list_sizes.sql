-- How many cases each audit list held at the end of each run whose lists passed the check
-- marts/audit_ranking:lists_not_collapsed: the next run's lists are compared with the last entry.
create table if not exists ops.audit_list_sizes (
    seq bigint,
    as_of date,
    program varchar,
    cases bigint
);
