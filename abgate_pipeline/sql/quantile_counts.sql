-- Request-level values behind each quantile metric (step 1 of 2: the ranks of the order
-- statistics are then chosen from each cell's n by `stats.order_statistic_ranks`, and step 2
-- fetches them). A cell is experiment x metric x variant x segment value (or `__all__`). Each
-- request's value is kept once, as a narrow (base, value) row: its base cell is the metric,
-- variant and all segment values of its unit, and the cells are unions of base cells
-- (`quantile_cell_bases`), so no value is copied once per segment.
-- Params: $as_of (DATE).
SET VARIABLE abgate_quantile_grid = [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8,
                                     0.85, 0.9, 0.92, 0.94, 0.96, 0.97, 0.98, 0.99]::DOUBLE[];

-- The analysed units with their experiment's segments (in a fixed order) and their values.
CREATE OR REPLACE TEMP MACRO quantile_unit_segments(as_of_date) AS TABLE
WITH segments AS (
    SELECT e.experiment_id,
           coalesce(list(s.segment ORDER BY s.segment) FILTER (WHERE s.segment IS NOT NULL),
                    []::VARCHAR[]) AS segments
    FROM cfg_experiments e LEFT JOIN cfg_segments s USING (experiment_id)
    GROUP BY e.experiment_id
)
SELECT u.experiment_id, u.unit_id, u.variant, g.segments,
       list_transform(g.segments, lambda s: coalesce(u.attributes[s], '(missing)'))
           AS segment_values
FROM experiment_units u JOIN segments g USING (experiment_id)
WHERE u.as_of = as_of_date AND u.n_variants = 1;

CREATE OR REPLACE TEMP TABLE quantile_bases AS
SELECT row_number() OVER (ORDER BY experiment_id, metric, variant, segment_values) AS base, *
FROM (
    SELECT DISTINCT u.experiment_id, m.metric, m.num_name, u.variant, u.segments,
           u.segment_values
    FROM quantile_unit_segments($as_of) u
    JOIN cfg_metrics m ON m.experiment_id = u.experiment_id AND m.kind = 'quantile'
);

-- Per unit and quantile metric: the log column it reads and the unit's base cell.
CREATE OR REPLACE TEMP TABLE quantile_units AS
SELECT u.experiment_id, u.unit_id, b.num_name, b.base
FROM quantile_unit_segments($as_of) u
JOIN quantile_bases b USING (experiment_id, variant, segment_values);

-- The cells, and the base cells each is made of: every base cell belongs to its `__all__` cell
-- and to one cell per segment.
CREATE OR REPLACE TEMP TABLE quantile_memberships AS
SELECT base, experiment_id, metric, variant, '__all__' AS segment, '__all__' AS segment_value
FROM quantile_bases
UNION ALL
SELECT base, experiment_id, metric, variant, unnest(segments), unnest(segment_values)
FROM quantile_bases;

CREATE OR REPLACE TEMP TABLE quantile_cells AS
SELECT row_number() OVER (ORDER BY experiment_id, metric, variant, segment, segment_value) AS cell,
       *
FROM (SELECT DISTINCT experiment_id, metric, variant, segment, segment_value
      FROM quantile_memberships);

CREATE OR REPLACE TEMP TABLE quantile_cell_bases AS
SELECT c.cell, b.base
FROM quantile_memberships b
JOIN quantile_cells c USING (experiment_id, metric, variant, segment, segment_value);

-- A request without the column's value keeps a NULL row (counted nowhere): filtering here would
-- put a condition on both sides into the join, and the planner would then build its hash
-- table on the requests instead of the units, which does not fit in memory at scale.
CREATE OR REPLACE TEMP TABLE quantile_obs AS
SELECT u.base,
       log_column(u.num_name, CAST(l.input_tokens AS DOUBLE), CAST(l.output_tokens AS DOUBLE),
           l.cost_usd, l.latency_ms, CAST(l.fallback AS DOUBLE), CAST(l.refusal AS DOUBLE),
           CAST(l.schema_valid AS DOUBLE)) AS v
FROM experiment_requests($as_of) l
JOIN quantile_units u USING (experiment_id, unit_id);

-- Per cell: n, and the quantiles of a 1 % sample at the grid's probabilities. Step 2 sorts only
-- the values above a threshold picked from them (`tail_threshold` in defs/metrics.py); the
-- sample decides how much is sorted, never the result.
WITH base_counts AS (
    SELECT base, count(v) AS n FROM quantile_obs GROUP BY base
),
counts AS (
    SELECT m.cell, sum(b.n) AS n
    FROM base_counts b JOIN quantile_cell_bases m USING (base)
    GROUP BY m.cell
),
sampled AS (
    SELECT m.cell, quantile_disc(o.v, getvariable('abgate_quantile_grid')) AS sample_quantiles
    FROM (SELECT * FROM quantile_obs USING SAMPLE 1 PERCENT (bernoulli)) o
    JOIN quantile_cell_bases m USING (base)
    GROUP BY m.cell
)
SELECT c.experiment_id, c.metric, m.q, c.variant, c.segment, c.segment_value, n.n,
       getvariable('abgate_quantile_grid') AS sample_probs, s.sample_quantiles
FROM quantile_cells c
JOIN cfg_metrics m USING (experiment_id, metric)
JOIN counts n USING (cell)
LEFT JOIN sampled s USING (cell)
WHERE n.n > 0
ORDER BY ALL;
