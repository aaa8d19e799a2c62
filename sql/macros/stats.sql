-- Statistics the campaign marts share.

-- The standard error of a difference of two means (treatment minus control), unequal
-- variances, each arm's variance floored at the pooled one: a rare outcome that no control case
-- happened to show (variance 0) must not make the interval falsely narrow.
create or replace macro fi_diff_se(var_t, n_t, var_c, n_c, var_pooled) as
sqrt(greatest(var_t, var_pooled) / n_t + greatest(var_c, var_pooled) / n_c);
