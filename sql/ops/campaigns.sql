-- Every campaign `fiscal-intel campaign` has drawn: written once, never changed. The same
-- arguments (args_key) on the same data give back this campaign instead of a new draw.
create table if not exists ops.campaigns (
    campaign_id varchar primary key,
    args_key varchar unique,
    program varchar,
    action varchar,
    size integer,
    control_share double,
    seed bigint,
    as_of date,
    open_until date,
    treatment integer,
    control integer,
    created_by varchar
);
