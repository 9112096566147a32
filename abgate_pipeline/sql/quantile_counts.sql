-- Request counts behind each quantile metric (step 1 of 2: the ranks of the order statistics
-- are chosen from n by `stats.order_statistic_ranks`).
-- Params: $as_of (DATE).
CREATE OR REPLACE TEMP TABLE quantile_obs AS
WITH units AS (
    SELECT experiment_id, unit_id, variant
    FROM experiment_units WHERE as_of = $as_of AND n_variants = 1
),
unit_segments AS (
    SELECT u.experiment_id, u.unit_id, s.segment,
           coalesce(u.attributes[s.segment], '(missing)') AS segment_value
    FROM experiment_units u JOIN cfg_segments s USING (experiment_id)
    WHERE u.as_of = $as_of AND u.n_variants = 1
),
obs AS (
    SELECT l.experiment_id, l.unit_id, m.metric, m.q, u.variant,
           CASE m.num_name
               WHEN 'latency_ms' THEN l.latency_ms
               WHEN 'cost_usd' THEN l.cost_usd
               WHEN 'input_tokens' THEN CAST(l.input_tokens AS DOUBLE)
               WHEN 'output_tokens' THEN CAST(l.output_tokens AS DOUBLE)
               WHEN 'fallback' THEN CAST(l.fallback AS DOUBLE)
               WHEN 'refusal' THEN CAST(l.refusal AS DOUBLE)
               WHEN 'schema_valid' THEN CAST(l.schema_valid AS DOUBLE)
           END AS v
    FROM experiment_requests($as_of) l
    JOIN units u USING (experiment_id, unit_id)
    JOIN cfg_metrics m ON m.experiment_id = l.experiment_id AND m.kind = 'quantile'
),
segmented AS (
    SELECT experiment_id, metric, q, variant, '__all__' AS segment, '__all__' AS segment_value, v
    FROM obs WHERE v IS NOT NULL
    UNION ALL
    SELECT o.experiment_id, o.metric, o.q, o.variant, s.segment, s.segment_value, o.v
    FROM obs o JOIN unit_segments s USING (experiment_id, unit_id)
    WHERE o.v IS NOT NULL
)
SELECT *, row_number() OVER (
    PARTITION BY experiment_id, metric, variant, segment, segment_value ORDER BY v
) AS rk
FROM segmented;

SELECT experiment_id, metric, any_value(q) AS q, variant, segment, segment_value, count(*) AS n
FROM quantile_obs
GROUP BY experiment_id, metric, variant, segment, segment_value
ORDER BY ALL;
