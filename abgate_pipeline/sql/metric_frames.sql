-- Sufficient statistics (n, sums, sums of squares, cross-products) per experiment x metric x
-- variant x segment for every non-quantile metric, from the unit table as of $as_of.
-- Per-unit value: a log column is averaged over the unit's requests; an outcome is averaged over
-- the unit's mature correlation keys (proportion: the share of keys with a positive outcome;
-- mean: the in-window sum, a key with no event counting 0 unless `missing: exclude`); a count
-- is the unit's total; a ratio keeps numerator and denominator totals over mature keys.
-- Units seen in more than one variant are left out (the blocking check reports them).
-- `winsorize: p` caps per-unit values at their p-quantile pooled over all variants (so the cap
-- cannot favour an arm); `cuped` adds the unit's pre-period value of the same outcome as the
-- covariate x (sum x, sum x^2, sum y x).
-- Params: $as_of (DATE).
WITH units AS (
    SELECT * FROM experiment_units WHERE as_of = $as_of AND n_variants = 1
),
vals AS (
    SELECT * FROM experiment_unit_values WHERE as_of = $as_of
),
pre AS (
    SELECT * FROM experiment_unit_pre WHERE as_of = $as_of
),
unit_metric AS (
    SELECT u.experiment_id, u.unit_id, u.variant, u.attributes, m.metric, m.kind,
        CASE
            WHEN m.kind = 'ratio' THEN
                CASE WHEN u.n_mature_keys > 0 THEN coalesce(vn.mature_sum, 0) END
            WHEN m.num_source = 'column' AND m.kind = 'count' THEN vn.all_sum
            WHEN m.num_source = 'column' THEN vn.all_sum / nullif(vn.all_count, 0)
            WHEN u.n_mature_keys = 0 THEN NULL
            WHEN m.kind = 'proportion' THEN coalesce(vn.mature_any, 0) / u.n_mature_keys
            WHEN m.kind = 'count' THEN coalesce(vn.mature_sum, 0)
            WHEN m.missing = 'exclude' THEN vn.mature_sum / nullif(vn.mature_present, 0)
            ELSE coalesce(vn.mature_sum, 0) / u.n_mature_keys
        END AS y,
        CASE
            WHEN m.kind = 'ratio' AND u.n_mature_keys > 0 THEN coalesce(vd.mature_sum, 0)
        END AS d,
        CASE
            WHEN m.cuped AND m.num_source = 'outcome' AND m.kind <> 'ratio'
            THEN coalesce(p.pre_value, 0)
        END AS x
    FROM units u
    JOIN cfg_metrics m ON m.experiment_id = u.experiment_id AND m.kind <> 'quantile'
    LEFT JOIN vals vn
      ON vn.experiment_id = u.experiment_id AND vn.unit_id = u.unit_id
     AND vn.source = m.num_source AND vn.name = m.num_name
    LEFT JOIN vals vd
      ON m.kind = 'ratio' AND vd.experiment_id = u.experiment_id AND vd.unit_id = u.unit_id
     AND vd.source = m.den_source AND vd.name = m.den_name
    LEFT JOIN pre p
      ON m.cuped AND p.experiment_id = u.experiment_id AND p.unit_id = u.unit_id
     AND p.outcome = m.num_name
),
caps AS (
    SELECT um.experiment_id, um.metric,
           list_sort(list(um.y))[greatest(1, ceil(m.winsorize * count(um.y)))::BIGINT] AS cap
    FROM unit_metric um
    JOIN cfg_metrics m USING (experiment_id, metric)
    WHERE m.winsorize IS NOT NULL AND um.y IS NOT NULL
    GROUP BY um.experiment_id, um.metric, m.winsorize
),
capped AS (
    SELECT um.* REPLACE (CASE WHEN c.cap IS NULL OR um.y IS NULL THEN um.y ELSE least(um.y, c.cap) END AS y),
           c.cap
    FROM unit_metric um
    LEFT JOIN caps c USING (experiment_id, metric)
),
segmented AS (
    SELECT *, '__all__' AS segment, '__all__' AS segment_value FROM capped
    UNION ALL
    SELECT um.*, s.segment, coalesce(um.attributes[s.segment], '(missing)')
    FROM capped um JOIN cfg_segments s USING (experiment_id)
)
SELECT $as_of AS as_of, experiment_id, metric, kind, variant, segment, segment_value,
       count(y) AS n, sum(y) AS sum, sum(y * y) AS sum_sq,
       sum(d) AS den_sum, sum(d * d) AS den_sum_sq, sum(y * d) AS cross_sum,
       NULL::DOUBLE AS q, NULL::DOUBLE AS q_estimate, NULL::DOUBLE AS q_lo, NULL::DOUBLE AS q_hi,
       sum(x) AS pre_sum, sum(x * x) AS pre_sum_sq, sum(y * x) AS pre_cross_sum, any_value(cap) AS cap
FROM segmented
WHERE y IS NOT NULL
GROUP BY ALL
ORDER BY ALL;
