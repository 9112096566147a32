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
SELECT $as_of, l.experiment_id, l.unit_id,
       min(l.variant), count(DISTINCT l.variant), min(l.ts), count(*),
       count(DISTINCT l.correlation_key),
       count(DISTINCT l.correlation_key) FILTER (WHERE k.mature),
       arg_min(l.attributes, l.ts)
FROM exp_logs l
JOIN exp_keys k USING (experiment_id, unit_id, correlation_key)
GROUP BY l.experiment_id, l.unit_id;

DELETE FROM experiment_unit_values WHERE as_of = $as_of;

INSERT INTO experiment_unit_values
WITH column_values AS (
    UNPIVOT (
        SELECT l.experiment_id, l.unit_id, k.mature,
               CAST(l.input_tokens AS DOUBLE) AS input_tokens,
               CAST(l.output_tokens AS DOUBLE) AS output_tokens,
               l.cost_usd, l.latency_ms,
               CAST(l.fallback AS DOUBLE) AS fallback,
               CAST(l.refusal AS DOUBLE) AS refusal,
               CAST(l.schema_valid AS DOUBLE) AS schema_valid
        FROM exp_logs l JOIN exp_keys k USING (experiment_id, unit_id, correlation_key)
    )
    ON input_tokens, output_tokens, cost_usd, latency_ms, fallback, refusal, schema_valid
    INTO NAME name VALUE value
)
SELECT $as_of, experiment_id, unit_id, 'column', name,
       sum(value), count(value),
       sum(value) FILTER (WHERE mature), count(value) FILTER (WHERE mature),
       NULL, NULL
FROM column_values
GROUP BY ALL
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
