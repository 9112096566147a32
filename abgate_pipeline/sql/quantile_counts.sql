-- Request-level values behind each quantile metric, by metric x variant x segment cell (step 1
-- of 2: the ranks of the order statistics are then chosen from n by `stats.order_statistic_ranks`,
-- and step 2 fetches them). Each cell gets a small integer id, so the values are kept as
-- narrow (cell, value) rows.
-- Params: $as_of (DATE).
SET VARIABLE abgate_quantile_grid = [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8,
                                     0.85, 0.9, 0.92, 0.94, 0.96, 0.97, 0.98, 0.99]::DOUBLE[];

-- Each unit once overall and once per configured segment, with its value of that segment.
CREATE OR REPLACE TEMP TABLE quantile_units AS
SELECT u.experiment_id, u.unit_id, u.variant, s.segment,
       CASE s.segment WHEN '__all__' THEN '__all__'
           ELSE coalesce(u.attributes[s.segment], '(missing)') END AS segment_value
FROM experiment_units u
JOIN (SELECT experiment_id, segment FROM cfg_segments
      UNION ALL SELECT experiment_id, '__all__' FROM cfg_experiments) s USING (experiment_id)
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
SELECT c.cell,
       log_column(c.num_name, CAST(l.input_tokens AS DOUBLE), CAST(l.output_tokens AS DOUBLE),
           l.cost_usd, l.latency_ms, CAST(l.fallback AS DOUBLE), CAST(l.refusal AS DOUBLE),
           CAST(l.schema_valid AS DOUBLE)) AS v
FROM experiment_requests($as_of) l
JOIN quantile_units u USING (experiment_id, unit_id)
JOIN quantile_cells c
  ON c.experiment_id = u.experiment_id AND c.variant = u.variant AND c.segment = u.segment
 AND c.segment_value = u.segment_value
WHERE v IS NOT NULL;

-- Per cell: n, and the quantiles of a 1 % sample at the grid's probabilities. Step 2 sorts only
-- the values above a threshold picked from them (`tail_threshold` in defs/metrics.py); the
-- sample decides how much is sorted, never the result.
WITH counts AS (
    SELECT cell, count(*) AS n FROM quantile_obs GROUP BY cell
),
sampled AS (
    SELECT cell, quantile_disc(v, getvariable('abgate_quantile_grid')) AS sample_quantiles
    FROM (SELECT * FROM quantile_obs USING SAMPLE 1 PERCENT (bernoulli))
    GROUP BY cell
)
SELECT c.experiment_id, c.metric, c.q, c.variant, c.segment, c.segment_value, n.n,
       getvariable('abgate_quantile_grid') AS sample_probs, s.sample_quantiles
FROM quantile_cells c
JOIN counts n USING (cell)
LEFT JOIN sampled s USING (cell)
ORDER BY ALL;
