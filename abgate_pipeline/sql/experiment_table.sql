-- Join logs and outcomes by correlation_key within each experiment's attribution window and
-- aggregate to the randomization unit, as of the end of $as_of (nothing later is visible).
-- Params: $as_of (DATE).
CREATE OR REPLACE TEMP TABLE exp_logs AS SELECT * FROM experiment_requests($as_of);

-- A correlation key's window opens at its first request; it is mature once the window closed.
CREATE OR REPLACE TEMP TABLE exp_keys AS
SELECT k.*, k.window_end <= $as_of + INTERVAL 1 DAY AS mature
FROM (
    SELECT l.experiment_id, l.unit_id, l.correlation_key, min(l.ts) AS first_ts,
           min(l.ts) + to_microseconds(CAST(any_value(e.window_hours) * 3600e6 AS BIGINT)) AS window_end
    FROM exp_logs l JOIN cfg_experiments e USING (experiment_id)
    GROUP BY ALL
) k;

-- In-window outcome value per key and outcome; duplicate event_ids count once.
CREATE OR REPLACE TEMP TABLE exp_key_outcomes AS
WITH events AS (
    SELECT * FROM outcome_events
    WHERE ts < $as_of + INTERVAL 1 DAY
    QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY partition_date, ts) = 1
)
SELECT k.experiment_id, k.unit_id, k.correlation_key, k.mature, o.outcome,
       sum(o.value) AS value_sum, count(*) AS n_events
FROM exp_keys k
JOIN events o
  ON o.correlation_key = k.correlation_key AND o.ts >= k.first_ts AND o.ts < k.window_end
GROUP BY ALL;

DELETE FROM experiment_units WHERE as_of = $as_of;

INSERT INTO experiment_units
WITH per_unit AS (
    SELECT experiment_id, unit_id, min(variant) AS variant,
           count(DISTINCT variant) AS n_variants, min(ts) AS first_exposure,
           count(*) AS requests, arg_min(attributes, ts) AS attributes
    FROM exp_logs
    GROUP BY experiment_id, unit_id
),
keys AS (
    SELECT experiment_id, unit_id, count(*) AS n_keys, count(*) FILTER (WHERE mature) AS n_mature
    FROM exp_keys
    GROUP BY experiment_id, unit_id
)
SELECT $as_of, u.experiment_id, u.unit_id, u.variant, u.n_variants, u.first_exposure,
       u.requests, k.n_keys, k.n_mature, u.attributes
FROM per_unit u
JOIN keys k USING (experiment_id, unit_id);

DELETE FROM experiment_unit_values WHERE as_of = $as_of;

-- Log columns are summed per unit first (over all requests, and over those of mature keys),
-- then unpivoted to one row per unit and column: far fewer rows than unpivoting requests.
INSERT INTO experiment_unit_values
WITH measured AS (
    SELECT l.experiment_id, l.unit_id, k.mature,
           CAST(l.input_tokens AS DOUBLE) AS input_tokens,
           CAST(l.output_tokens AS DOUBLE) AS output_tokens,
           l.cost_usd, l.latency_ms,
           CAST(l.fallback AS DOUBLE) AS fallback,
           CAST(l.refusal AS DOUBLE) AS refusal,
           CAST(l.schema_valid AS DOUBLE) AS schema_valid
    FROM exp_logs l JOIN exp_keys k USING (experiment_id, unit_id, correlation_key)
),
unit_sums AS (
    SELECT experiment_id, unit_id,
           sum(input_tokens) AS input_tokens_all_sum, count(input_tokens) AS input_tokens_all_count,
           sum(input_tokens) FILTER (WHERE mature) AS input_tokens_mature_sum,
           count(input_tokens) FILTER (WHERE mature) AS input_tokens_mature_count,
           sum(output_tokens) AS output_tokens_all_sum, count(output_tokens) AS output_tokens_all_count,
           sum(output_tokens) FILTER (WHERE mature) AS output_tokens_mature_sum,
           count(output_tokens) FILTER (WHERE mature) AS output_tokens_mature_count,
           sum(cost_usd) AS cost_usd_all_sum, count(cost_usd) AS cost_usd_all_count,
           sum(cost_usd) FILTER (WHERE mature) AS cost_usd_mature_sum,
           count(cost_usd) FILTER (WHERE mature) AS cost_usd_mature_count,
           sum(latency_ms) AS latency_ms_all_sum, count(latency_ms) AS latency_ms_all_count,
           sum(latency_ms) FILTER (WHERE mature) AS latency_ms_mature_sum,
           count(latency_ms) FILTER (WHERE mature) AS latency_ms_mature_count,
           sum(fallback) AS fallback_all_sum, count(fallback) AS fallback_all_count,
           sum(fallback) FILTER (WHERE mature) AS fallback_mature_sum,
           count(fallback) FILTER (WHERE mature) AS fallback_mature_count,
           sum(refusal) AS refusal_all_sum, count(refusal) AS refusal_all_count,
           sum(refusal) FILTER (WHERE mature) AS refusal_mature_sum,
           count(refusal) FILTER (WHERE mature) AS refusal_mature_count,
           sum(schema_valid) AS schema_valid_all_sum, count(schema_valid) AS schema_valid_all_count,
           sum(schema_valid) FILTER (WHERE mature) AS schema_valid_mature_sum,
           count(schema_valid) FILTER (WHERE mature) AS schema_valid_mature_count
    FROM measured
    GROUP BY experiment_id, unit_id
),
column_values AS (
    -- INCLUDE NULLS: a unit with no mature key still has its all-requests sums.
    SELECT * FROM unit_sums UNPIVOT INCLUDE NULLS (
        (all_sum, all_count, mature_sum, mature_count) FOR name IN (
       (input_tokens_all_sum, input_tokens_all_count, input_tokens_mature_sum, input_tokens_mature_count) AS input_tokens,
       (output_tokens_all_sum, output_tokens_all_count, output_tokens_mature_sum, output_tokens_mature_count) AS output_tokens,
       (cost_usd_all_sum, cost_usd_all_count, cost_usd_mature_sum, cost_usd_mature_count) AS cost_usd,
       (latency_ms_all_sum, latency_ms_all_count, latency_ms_mature_sum, latency_ms_mature_count) AS latency_ms,
       (fallback_all_sum, fallback_all_count, fallback_mature_sum, fallback_mature_count) AS fallback,
       (refusal_all_sum, refusal_all_count, refusal_mature_sum, refusal_mature_count) AS refusal,
       (schema_valid_all_sum, schema_valid_all_count, schema_valid_mature_sum, schema_valid_mature_count) AS schema_valid
        )
    )
)
SELECT $as_of, experiment_id, unit_id, 'column', name,
       all_sum, all_count, mature_sum, mature_count, NULL, NULL
FROM column_values
WHERE all_count > 0
UNION ALL
SELECT $as_of, experiment_id, unit_id, 'outcome', outcome,
       sum(value_sum), count(*),
       sum(value_sum) FILTER (WHERE mature), count(*) FILTER (WHERE mature),
       count(*) FILTER (WHERE mature AND value_sum > 0), count(*) FILTER (WHERE mature)
FROM exp_key_outcomes
GROUP BY ALL;

DELETE FROM experiment_unit_pre WHERE as_of = $as_of;

-- The CUPED covariate: each unit's outcome values in the pre-period [start - pre_period_days,
-- start), from events that name the unit. Never overlaps the experiment's own window.
INSERT INTO experiment_unit_pre
WITH units AS (
    SELECT DISTINCT experiment_id, unit_id FROM exp_keys
),
pre AS (
    SELECT e.experiment_id, o.unit_id, o.outcome, o.value
    FROM outcome_events o
    JOIN cfg_experiments e
      ON o.ts >= e.start_ts - to_days(e.pre_period_days) AND o.ts < e.start_ts
    JOIN units u ON u.experiment_id = e.experiment_id AND u.unit_id = o.unit_id
    WHERE e.pre_period_days > 0
    QUALIFY row_number() OVER (PARTITION BY e.experiment_id, o.event_id ORDER BY o.partition_date) = 1
)
SELECT $as_of, experiment_id, unit_id, outcome, sum(value)
FROM pre
GROUP BY ALL;
