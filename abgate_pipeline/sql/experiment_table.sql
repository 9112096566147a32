-- Join logs and outcomes by correlation_key within each experiment's attribution window and
-- aggregate to the randomization unit, as of the end of $as_of (nothing later is visible).
-- The requests are read once, summed per correlation key (exp_keys); units and outcomes are
-- built from the keys.
-- Params: $as_of (DATE).
-- What the unit rollup below reads besides the contract keys: the log columns some metric
-- averages, counts or puts in a ratio (summing only those keeps the aggregation small enough
-- for memory at millions of units), and the configured segments.
SET VARIABLE abgate_metric_columns = (
    SELECT coalesce(list(DISTINCT name ORDER BY name), []::VARCHAR[]) FROM (
        SELECT num_name AS name FROM cfg_metrics WHERE num_source = 'column' AND kind <> 'quantile'
        UNION ALL
        SELECT den_name FROM cfg_metrics WHERE den_source = 'column'
    )
);
SET VARIABLE abgate_segments = (
    SELECT coalesce(list(DISTINCT segment ORDER BY segment), []::VARCHAR[]) FROM cfg_segments
);

-- Per correlation key: its first request opens the attribution window, and the key is mature
-- once the window has closed by the end of $as_of; the metrics' log columns are summed per key
-- so that the units below, and the outcome join, never go back to the requests. Every sum here
-- is a fixed_sum (schema.sql), so a re-run gives the same bits (plain DOUBLE sums depend on the
-- order rows are added in).
CREATE OR REPLACE TEMP TABLE exp_keys AS
WITH requests AS (
    SELECT *,
           list_transform(getvariable('abgate_segments'), lambda s: attributes[s]) AS segment_values,
           NULL::DOUBLE AS _abgate_no_column  -- keeps the column list below non-empty
    FROM experiment_requests($as_of)
),
per_key AS (
    SELECT experiment_id, unit_id, correlation_key,
           min(ts) AS first_ts, min(variant) AS min_variant, max(variant) AS max_variant,
           count(*) AS requests, arg_min(segment_values, ts) AS segment_values,
           fixed_sum(CAST(COLUMNS(lambda c: metric_column(c)) AS DOUBLE)) AS '\0_sum',
           count(COLUMNS(lambda c: metric_column(c))) AS '\0_count'
    FROM requests
    GROUP BY experiment_id, unit_id, correlation_key
)
SELECT k.*, window_end(k.first_ts, e.window_hours) AS window_end,
       window_closed(k.first_ts, e.window_hours, $as_of) AS mature
FROM per_key k JOIN cfg_experiments e USING (experiment_id);

DELETE FROM experiment_units WHERE as_of = $as_of;

-- One row per unit: its variant (a unit served several variants is flagged, not resolved), its
-- first request's segment values, its correlation keys and how many have a closed attribution
-- window, and each metric's log column summed over all its requests (sum, count) and over those
-- of its mature keys (ratio metrics pair numerator and denominator over the same keys).
INSERT INTO experiment_units BY NAME
SELECT * EXCLUDE (_abgate_no_column_sum, _abgate_no_column_count, _abgate_no_column_mature_sum)
FROM (
    SELECT $as_of AS as_of, experiment_id, unit_id, min(min_variant) AS variant,
           -- 1, or 2 for a unit served more than one variant (the check needs no exact count,
           -- and counting distinct variants per unit costs as much as the rest together)
           CASE WHEN min(min_variant) = max(max_variant) THEN 1 ELSE 2 END AS n_variants,
           min(first_ts) AS first_exposure, sum(requests) AS requests,
           count(*) AS n_keys, count(*) FILTER (WHERE mature) AS n_mature_keys,
           map(getvariable('abgate_segments'), arg_min(segment_values, first_ts)) AS attributes,
           fixed_sum(COLUMNS('^(.+)_sum$')) AS '\1_sum',
           sum(COLUMNS('^(.+)_count$')) AS '\1_count',
           fixed_sum(CASE WHEN mature THEN COLUMNS('^(.+)_sum$') END) AS '\1_mature_sum'
    FROM exp_keys
    GROUP BY experiment_id, unit_id
);

DELETE FROM experiment_unit_values WHERE as_of = $as_of;

-- Per unit and outcome: the in-window outcome values of its correlation keys, over all keys and
-- over the mature ones; duplicate event_ids count once (the first delivery).
INSERT INTO experiment_unit_values
WITH key_outcomes AS (
    SELECT k.experiment_id, k.unit_id, k.mature, o.outcome, fixed_sum(o.value) AS value_sum
    FROM exp_keys k
    JOIN visible_outcome_events($as_of) o
      ON o.correlation_key = k.correlation_key AND o.ts >= k.first_ts AND o.ts < k.window_end
    GROUP BY k.experiment_id, k.unit_id, k.correlation_key, k.mature, o.outcome
)
SELECT $as_of, experiment_id, unit_id, 'outcome', outcome,
       fixed_sum(value_sum), count(*),
       fixed_sum(CASE WHEN mature THEN value_sum END), count(*) FILTER (WHERE mature),
       count(*) FILTER (WHERE mature AND value_sum > 0), count(*) FILTER (WHERE mature)
FROM key_outcomes
GROUP BY experiment_id, unit_id, outcome;

DELETE FROM experiment_unit_pre WHERE as_of = $as_of;

-- The CUPED covariate: each unit's pre-period totals [start - pre_period_days, start) of the
-- outcomes (from events that name the unit) and of the log columns CUPED ratio metrics read
-- (from the unit's requests logged for the experiment before its start); duplicates count once.
-- Never overlaps the experiment's own window.
INSERT INTO experiment_unit_pre BY NAME
WITH units AS (
    SELECT experiment_id, unit_id FROM experiment_units WHERE as_of = $as_of
),
pre_events AS (
    SELECT e.experiment_id, o.unit_id, o.outcome, o.value
    FROM outcome_events o
    JOIN cfg_experiments e
      ON o.ts >= e.start_ts - to_days(e.pre_period_days) AND o.ts < e.start_ts
    JOIN units u ON u.experiment_id = e.experiment_id AND u.unit_id = o.unit_id
    WHERE e.pre_period_days > 0
    QUALIFY row_number() OVER (PARTITION BY e.experiment_id, o.event_id ORDER BY o.partition_date) = 1
),
pre_requests AS (
    SELECT l.*
    FROM inference_logs l
    JOIN cfg_experiments e
      ON l.experiment_id = e.experiment_id
     AND l.ts >= e.start_ts - to_days(e.pre_period_days) AND l.ts < e.start_ts
    JOIN units u ON u.experiment_id = l.experiment_id AND u.unit_id = l.unit_id
    WHERE e.pre_period_days > 0
    QUALIFY row_number() OVER (PARTITION BY l.request_id ORDER BY l.partition_date, l.ts) = 1
),
pre_columns AS (
    SELECT DISTINCT experiment_id, name FROM (
        SELECT experiment_id, num_name AS name FROM cfg_metrics
        WHERE cuped AND kind = 'ratio' AND num_source = 'column'
        UNION ALL
        SELECT experiment_id, den_name FROM cfg_metrics
        WHERE cuped AND kind = 'ratio' AND den_source = 'column'
    )
)
SELECT $as_of AS as_of, experiment_id, unit_id, 'outcome' AS source, outcome,
       fixed_sum(value) AS pre_value
FROM pre_events
GROUP BY ALL
UNION ALL
SELECT $as_of, r.experiment_id, r.unit_id, 'column', c.name,
       coalesce(fixed_sum(log_column(c.name, CAST(r.input_tokens AS DOUBLE),
           CAST(r.output_tokens AS DOUBLE), r.cost_usd, r.latency_ms, CAST(r.fallback AS DOUBLE),
           CAST(r.refusal AS DOUBLE), CAST(r.schema_valid AS DOUBLE))), 0)
FROM pre_requests r
JOIN pre_columns c USING (experiment_id)
GROUP BY ALL;
