-- Every case of every campaign and the arm it was drawn into (treatment or control), with the
-- stratum of expected yield it was drawn within and what the case was expected to yield then.
-- Written once with its campaign; the effects compare the two arms as drawn (intention to treat).
create table if not exists ops.campaign_assignments (
    campaign_id varchar,
    nit varchar,
    tax_year integer,
    program varchar,
    stratum integer,
    arm varchar,
    expected_recovery double,
    primary key (campaign_id, nit, tax_year, program)
);
