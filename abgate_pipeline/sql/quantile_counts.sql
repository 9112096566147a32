-- Request-level values behind each quantile metric, ranked within each metric x variant x
-- segment (step 1 of 2: the ranks of the order statistics are then chosen from n by
-- `stats.order_statistic_ranks`). Each such cell gets a small integer id first, so the sort
-- that ranks millions of values carries an integer and a number per row (and spills to disk
-- beyond the memory limit) instead of every row's names.
-- Params: $as_of (DATE).
CREATE OR REPLACE TEMP TABLE quantile_units AS
SELECT u.experiment_id, u.unit_id, u.variant, '__all__' AS segment, '__all__' AS segment_value
FROM experiment_units u
WHERE u.as_of = $as_of AND u.n_variants = 1
UNION ALL
SELECT u.experiment_id, u.unit_id, u.variant, s.segment,
       coalesce(u.attributes[s.segment], '(missing)')
FROM experiment_units u JOIN cfg_segments s USING (experiment_id)
WHERE u.as_of = $as_of AND u.n_variants = 1;

CREATE OR REPLACE TEMP TABLE quantile_cells AS
SELECT row_number() OVER (
    ORDER BY experiment_id, metric, variant, segment, segment_value
) AS cell, *
FROM (
    SELECT DISTINCT u.experiment_id, m.metric, m.q, m.num_name, u.variant, u.segment,
           u.segment_value
    FROM quantile_units u
    JOIN cfg_metrics m ON m.experiment_id = u.experiment_id AND m.kind = 'quantile'
);

CREATE OR REPLACE TEMP TABLE quantile_obs AS
WITH obs AS (
    SELECT c.cell,
           log_column(c.num_name, CAST(l.input_tokens AS DOUBLE),
               CAST(l.output_tokens AS DOUBLE), l.cost_usd, l.latency_ms,
               CAST(l.fallback AS DOUBLE), CAST(l.refusal AS DOUBLE),
               CAST(l.schema_valid AS DOUBLE)) AS v
    FROM experiment_requests($as_of) l
    JOIN quantile_units u USING (experiment_id, unit_id)
    JOIN quantile_cells c
      ON c.experiment_id = u.experiment_id AND c.variant = u.variant AND c.segment = u.segment
     AND c.segment_value = u.segment_value
)
SELECT cell, v, row_number() OVER (PARTITION BY cell ORDER BY v) AS rk
FROM obs
WHERE v IS NOT NULL;

SELECT c.experiment_id, c.metric, c.q, c.variant, c.segment, c.segment_value, count(o.cell) AS n
FROM quantile_cells c
LEFT JOIN quantile_obs o USING (cell)
GROUP BY ALL
HAVING count(o.cell) > 0
ORDER BY ALL;
