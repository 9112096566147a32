-- The warehouse tables. Every table written per partition carries its partition column so a
-- re-run replaces exactly its own rows (DELETE + INSERT in one transaction).
CREATE TABLE IF NOT EXISTS inference_logs (
    partition_date DATE NOT NULL,
    request_id VARCHAR NOT NULL,
    ts TIMESTAMP NOT NULL,
    experiment_id VARCHAR NOT NULL,
    variant VARCHAR NOT NULL,
    unit_id VARCHAR NOT NULL,
    correlation_key VARCHAR NOT NULL,
    trace_id VARCHAR,
    model VARCHAR,
    prompt_version VARCHAR,
    rag_index_version VARCHAR,
    input_tokens BIGINT,
    output_tokens BIGINT,
    cost_usd DOUBLE,
    latency_ms DOUBLE,
    finish_reason VARCHAR,
    status VARCHAR,
    fallback BOOLEAN,
    refusal BOOLEAN,
    schema_valid BOOLEAN,
    prompt VARCHAR,
    response VARCHAR,
    attributes MAP(VARCHAR, VARCHAR),
    source_file VARCHAR NOT NULL,
    line_number BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS outcome_events (
    partition_date DATE NOT NULL,
    event_id VARCHAR NOT NULL,
    correlation_key VARCHAR NOT NULL,
    outcome VARCHAR NOT NULL,
    value DOUBLE NOT NULL,
    ts TIMESTAMP NOT NULL,
    source VARCHAR,
    source_file VARCHAR NOT NULL,
    line_number BIGINT NOT NULL,
    unit_id VARCHAR            -- optional: lets pre-period events feed CUPED (see README)
);

-- Rows that could not be accepted, with the reason; `raw` is the redacted line.
CREATE TABLE IF NOT EXISTS quarantine (
    dataset VARCHAR NOT NULL,
    partition_date DATE NOT NULL,
    source_file VARCHAR NOT NULL,
    line_number BIGINT NOT NULL,
    reason VARCHAR NOT NULL,
    raw VARCHAR
);

-- Landing files that could not be read at all (a zero-byte or truncated Parquet file, ...), per
-- dataset and day: nothing of them is stored, and the day is incomplete until the file is
-- delivered again and the day re-run (which replaces the day's rows). `error` is the reader's
-- (its first line, redacted).
CREATE TABLE IF NOT EXISTS quarantined_files (
    dataset VARCHAR NOT NULL,
    partition_date DATE NOT NULL,
    source_file VARCHAR NOT NULL,
    error VARCHAR NOT NULL,
    quarantined_at TIMESTAMP NOT NULL
);

-- One row per as-of date x experiment x randomization unit.
CREATE TABLE IF NOT EXISTS experiment_units (
    as_of DATE NOT NULL,
    experiment_id VARCHAR NOT NULL,
    unit_id VARCHAR NOT NULL,
    variant VARCHAR NOT NULL,
    n_variants BIGINT NOT NULL,
    first_exposure TIMESTAMP NOT NULL,
    requests BIGINT NOT NULL,
    n_keys BIGINT NOT NULL,
    n_mature_keys BIGINT NOT NULL,
    attributes MAP(VARCHAR, VARCHAR),
    -- Each numeric log column a metric reads (NULL for the others), summed over the unit's
    -- requests (sum, non-NULL count) and over the requests of its mature correlation keys.
    input_tokens_sum DOUBLE, input_tokens_count BIGINT, input_tokens_mature_sum DOUBLE,
    output_tokens_sum DOUBLE, output_tokens_count BIGINT, output_tokens_mature_sum DOUBLE,
    cost_usd_sum DOUBLE, cost_usd_count BIGINT, cost_usd_mature_sum DOUBLE,
    latency_ms_sum DOUBLE, latency_ms_count BIGINT, latency_ms_mature_sum DOUBLE,
    fallback_sum DOUBLE, fallback_count BIGINT, fallback_mature_sum DOUBLE,
    refusal_sum DOUBLE, refusal_count BIGINT, refusal_mature_sum DOUBLE,
    schema_valid_sum DOUBLE, schema_valid_count BIGINT, schema_valid_mature_sum DOUBLE
);

-- Per unit and outcome: sums over the unit's correlation keys and over those whose attribution
-- window has closed by the end of the as-of day (the log columns' sums are in experiment_units).
CREATE TABLE IF NOT EXISTS experiment_unit_values (
    as_of DATE NOT NULL,
    experiment_id VARCHAR NOT NULL,
    unit_id VARCHAR NOT NULL,
    source VARCHAR NOT NULL,   -- 'outcome'
    name VARCHAR NOT NULL,
    all_sum DOUBLE,
    all_count BIGINT,
    mature_sum DOUBLE,
    mature_count BIGINT,
    mature_any BIGINT,         -- outcomes: mature keys with a positive in-window value
    mature_present BIGINT      -- outcomes: mature keys with any in-window event
);

-- Sufficient statistics per as-of x experiment x metric x variant x segment.
CREATE TABLE IF NOT EXISTS metric_frames (
    as_of DATE NOT NULL,
    experiment_id VARCHAR NOT NULL,
    metric VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    variant VARCHAR NOT NULL,
    segment VARCHAR NOT NULL,
    segment_value VARCHAR NOT NULL,
    n BIGINT NOT NULL,
    sum DOUBLE,
    sum_sq DOUBLE,
    den_sum DOUBLE,
    den_sum_sq DOUBLE,
    cross_sum DOUBLE,
    q DOUBLE,
    q_estimate DOUBLE,
    q_lo DOUBLE,
    q_hi DOUBLE,
    pre_sum DOUBLE,            -- CUPED: the unit's pre-period value x, sum(x), sum(x^2), sum(y x)
    pre_sum_sq DOUBLE,         -- (for a ratio, x is the pre-period numerator)
    pre_cross_sum DOUBLE,
    cap DOUBLE,                -- the winsorization cap applied to per-unit values, if any
    -- CUPED for a ratio: xd = the unit's pre-period denominator; sum(xd), sum(xd^2), sum(x xd),
    -- sum(d xd), sum(y xd), sum(d x), with y and d the numerator and denominator
    pre_den_sum DOUBLE,
    pre_den_sum_sq DOUBLE,
    pre_num_den_sum DOUBLE,
    den_pre_den_sum DOUBLE,
    num_pre_den_sum DOUBLE,
    den_pre_num_sum DOUBLE
);

-- Per unit and measure: the unit's total in the pre-period (the days before the experiment
-- start) of an outcome, from outcome events that carry a unit_id, or of a log column a ratio
-- metric reads, from the unit's requests logged for the experiment before it started. The CUPED
-- covariate.
CREATE TABLE IF NOT EXISTS experiment_unit_pre (
    as_of DATE NOT NULL,
    experiment_id VARCHAR NOT NULL,
    unit_id VARCHAR NOT NULL,
    outcome VARCHAR NOT NULL,  -- the outcome or log column name
    pre_value DOUBLE NOT NULL,
    source VARCHAR NOT NULL DEFAULT 'outcome'  -- 'outcome' | 'column'
);

CREATE TABLE IF NOT EXISTS gate_decisions (
    as_of DATE NOT NULL,
    experiment_id VARCHAR NOT NULL,
    decision VARCHAR NOT NULL,
    checks_passed BOOLEAN NOT NULL,
    record JSON NOT NULL,
    computed_at TIMESTAMP NOT NULL
);

-- Append-only audit log of every flag change the promotion made.
CREATE TABLE IF NOT EXISTS decision_log (
    changed_at TIMESTAMP NOT NULL,
    experiment_id VARCHAR NOT NULL,
    as_of DATE NOT NULL,
    action VARCHAR NOT NULL,
    flag_key VARCHAR NOT NULL,
    from_pct INTEGER NOT NULL,
    to_pct INTEGER NOT NULL,
    flag_version BIGINT NOT NULL,
    approved_by VARCHAR,
    run_id VARCHAR,
    weights JSON               -- the variant -> percent split the flag serves from changed_at on
);

-- The experiments YAML as tables, rewritten from the config at the start of every step that
-- reads them, so the SQL can join on them and an analyst can query what the gate used.
CREATE TABLE IF NOT EXISTS cfg_experiments (
    experiment_id VARCHAR NOT NULL, start_ts TIMESTAMP NOT NULL, window_hours DOUBLE NOT NULL,
    pre_period_days INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS cfg_variants (experiment_id VARCHAR NOT NULL, variant VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS cfg_segments (experiment_id VARCHAR NOT NULL, segment VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS cfg_metrics (
    experiment_id VARCHAR NOT NULL, metric VARCHAR NOT NULL, kind VARCHAR NOT NULL,
    num_source VARCHAR NOT NULL, num_name VARCHAR NOT NULL,
    den_source VARCHAR, den_name VARCHAR, missing VARCHAR NOT NULL, q DOUBLE,
    winsorize DOUBLE, cuped BOOLEAN
);

-- Columns added after the first release, for warehouses created before them.
ALTER TABLE outcome_events ADD COLUMN IF NOT EXISTS unit_id VARCHAR;
ALTER TABLE metric_frames ADD COLUMN IF NOT EXISTS pre_sum DOUBLE;
ALTER TABLE metric_frames ADD COLUMN IF NOT EXISTS pre_sum_sq DOUBLE;
ALTER TABLE metric_frames ADD COLUMN IF NOT EXISTS pre_cross_sum DOUBLE;
ALTER TABLE metric_frames ADD COLUMN IF NOT EXISTS cap DOUBLE;
ALTER TABLE metric_frames ADD COLUMN IF NOT EXISTS pre_den_sum DOUBLE;
ALTER TABLE metric_frames ADD COLUMN IF NOT EXISTS pre_den_sum_sq DOUBLE;
ALTER TABLE metric_frames ADD COLUMN IF NOT EXISTS pre_num_den_sum DOUBLE;
ALTER TABLE metric_frames ADD COLUMN IF NOT EXISTS den_pre_den_sum DOUBLE;
ALTER TABLE metric_frames ADD COLUMN IF NOT EXISTS num_pre_den_sum DOUBLE;
ALTER TABLE metric_frames ADD COLUMN IF NOT EXISTS den_pre_num_sum DOUBLE;
ALTER TABLE experiment_unit_pre ADD COLUMN IF NOT EXISTS source VARCHAR DEFAULT 'outcome';
ALTER TABLE cfg_metrics ADD COLUMN IF NOT EXISTS winsorize DOUBLE;
ALTER TABLE cfg_metrics ADD COLUMN IF NOT EXISTS cuped BOOLEAN;
ALTER TABLE cfg_experiments ADD COLUMN IF NOT EXISTS pre_period_days INTEGER;
ALTER TABLE decision_log ADD COLUMN IF NOT EXISTS weights JSON;
ALTER TABLE experiment_units ADD COLUMN IF NOT EXISTS input_tokens_sum DOUBLE;
ALTER TABLE experiment_units ADD COLUMN IF NOT EXISTS input_tokens_count BIGINT;
ALTER TABLE experiment_units ADD COLUMN IF NOT EXISTS input_tokens_mature_sum DOUBLE;
ALTER TABLE experiment_units ADD COLUMN IF NOT EXISTS output_tokens_sum DOUBLE;
ALTER TABLE experiment_units ADD COLUMN IF NOT EXISTS output_tokens_count BIGINT;
ALTER TABLE experiment_units ADD COLUMN IF NOT EXISTS output_tokens_mature_sum DOUBLE;
ALTER TABLE experiment_units ADD COLUMN IF NOT EXISTS cost_usd_sum DOUBLE;
ALTER TABLE experiment_units ADD COLUMN IF NOT EXISTS cost_usd_count BIGINT;
ALTER TABLE experiment_units ADD COLUMN IF NOT EXISTS cost_usd_mature_sum DOUBLE;
ALTER TABLE experiment_units ADD COLUMN IF NOT EXISTS latency_ms_sum DOUBLE;
ALTER TABLE experiment_units ADD COLUMN IF NOT EXISTS latency_ms_count BIGINT;
ALTER TABLE experiment_units ADD COLUMN IF NOT EXISTS latency_ms_mature_sum DOUBLE;
ALTER TABLE experiment_units ADD COLUMN IF NOT EXISTS fallback_sum DOUBLE;
ALTER TABLE experiment_units ADD COLUMN IF NOT EXISTS fallback_count BIGINT;
ALTER TABLE experiment_units ADD COLUMN IF NOT EXISTS fallback_mature_sum DOUBLE;
ALTER TABLE experiment_units ADD COLUMN IF NOT EXISTS refusal_sum DOUBLE;
ALTER TABLE experiment_units ADD COLUMN IF NOT EXISTS refusal_count BIGINT;
ALTER TABLE experiment_units ADD COLUMN IF NOT EXISTS refusal_mature_sum DOUBLE;
ALTER TABLE experiment_units ADD COLUMN IF NOT EXISTS schema_valid_sum DOUBLE;
ALTER TABLE experiment_units ADD COLUMN IF NOT EXISTS schema_valid_count BIGINT;
ALTER TABLE experiment_units ADD COLUMN IF NOT EXISTS schema_valid_mature_sum DOUBLE;

-- The phase an as-of day belongs to: an experiment is analysed from its start or from the last
-- flag change before the end of the day, whichever is later (a ramp from 10 % to 50 % changes
-- the split, so the analysis starts over with the new one, as GrowthBook's phases do).
CREATE OR REPLACE MACRO experiment_phases(as_of_date) AS TABLE
SELECT e.experiment_id,
       greatest(e.start_ts, coalesce(max(d.changed_at), e.start_ts)) AS phase_start,
       arg_max(d.weights, d.changed_at) AS weights
FROM cfg_experiments e
LEFT JOIN decision_log d
  ON d.experiment_id = e.experiment_id AND d.changed_at < as_of_date + INTERVAL 1 DAY
GROUP BY e.experiment_id, e.start_ts;

-- The requests an experiment analysis sees as of the end of `as_of_date`: from the phase start,
-- nothing later, each request_id once (a re-delivered line in another partition is a copy; the
-- first by partition and time wins). The repeated ids are found by grouping ids (a hash
-- aggregate) and only their rows are ranked: a window over every request would sort millions of
-- rows to drop almost none.
CREATE OR REPLACE MACRO experiment_requests(as_of_date) AS TABLE
WITH phase_logs AS NOT MATERIALIZED (
    SELECT l.rowid AS row_id, l.*
    FROM inference_logs l
    JOIN experiment_phases(as_of_date) p USING (experiment_id)
    WHERE l.ts >= p.phase_start AND l.ts < as_of_date + INTERVAL 1 DAY
),
later_copies AS (
    SELECT row_id
    FROM phase_logs
    WHERE request_id IN (SELECT request_id FROM phase_logs GROUP BY request_id HAVING count(*) > 1)
    QUALIFY row_number() OVER (PARTITION BY request_id ORDER BY partition_date, ts, row_id) > 1
)
SELECT l.request_id, l.partition_date, l.ts, l.experiment_id, l.variant, l.unit_id,
       l.correlation_key, l.input_tokens, l.output_tokens, l.cost_usd, l.latency_ms, l.fallback,
       l.refusal, l.schema_valid, l.attributes
FROM phase_logs l
ANTI JOIN later_copies c USING (row_id);

-- Outcome events that have arrived by the end of `as_of_date`, each event_id once (the first
-- delivery by partition and time), found as in experiment_requests.
CREATE OR REPLACE MACRO visible_outcome_events(as_of_date) AS TABLE
WITH arrived AS NOT MATERIALIZED (
    SELECT rowid AS row_id, * FROM outcome_events WHERE ts < as_of_date + INTERVAL 1 DAY
),
later_copies AS (
    SELECT row_id
    FROM arrived
    WHERE event_id IN (SELECT event_id FROM arrived GROUP BY event_id HAVING count(*) > 1)
    QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY partition_date, ts, row_id) > 1
)
SELECT o.* EXCLUDE (row_id) FROM arrived o ANTI JOIN later_copies c USING (row_id);

-- sum(x) of DOUBLEs, exactly, so that a re-run on the same data gives the same bits whatever
-- order the parallel aggregation adds the values in (a plain DOUBLE sum is rounded after every
-- addition, and its last digits follow the order). Each value is split into its integer part
-- and its fraction in units of 2^-90 (x - trunc(x) is exact in floating point), both summed as
-- 128-bit integers (exact, so any order gives the same totals), then turned back into one
-- DOUBLE. Values below 2^-90 in magnitude lose their bits below that. Exact for finite values
-- below 2^80 in magnitude, summed over fewer than 2^46 rows: ingest bounds every stored number
-- (README), which keeps the sums here and their squares in range. A non-finite value, or one
-- beyond 2^127, is left out (TRY_CAST): callers that cannot rule them out count them
-- (`inexact`) and report the sum as NaN (`exact_or_nan`).
CREATE OR REPLACE MACRO exact_sum(x) AS
    CAST(sum(TRY_CAST(trunc(x) AS HUGEINT)) AS DOUBLE)
    + CAST(sum(TRY_CAST(round((x - trunc(x)) * pow(2.0, 90)) AS HUGEINT)) AS DOUBLE)
      / pow(2.0, 90);

-- sum(x) in fixed point, in units of 2^-60, as one 128-bit integer sum: as fast as a plain
-- DOUBLE sum and, like exact_sum, the same bits in any order. For sums of stored values
-- (ingest bounds them to below 2^40) over fewer than 2^27 rows, where exact_sum's dynamic
-- range (squares, products) is not needed; bits below 2^-60 are rounded off.
CREATE OR REPLACE MACRO fixed_sum(x) AS
    CAST(sum(TRY_CAST(round(x * pow(2.0, 60)) AS HUGEINT)) AS DOUBLE) / pow(2.0, 60);

-- Whether a value is outside the range exact_sum adds exactly when it and products of two such
-- values are summed (NaN, inf, or 2^40 and more in magnitude).
CREATE OR REPLACE MACRO inexact(x) AS NOT coalesce(abs(x) < pow(2.0, 40), true);

-- exact_sum(x), or NaN when some of the rows it stands for held an inexact value (`bad` counts
-- them), so that such data shows as a non-finite statistic instead of being dropped.
CREATE OR REPLACE MACRO exact_or_nan(x, bad) AS
    CASE WHEN sum(bad) > 0 THEN 'nan'::DOUBLE ELSE exact_sum(x) END;

-- The one of the seven numeric log columns that `name` names, given their values in contract
-- order (a request's values, or a unit's sums of them): where a metric's configured column name
-- picks its value.
CREATE OR REPLACE MACRO log_column(
    name, input_tokens, output_tokens, cost_usd, latency_ms, fallback, refusal, schema_valid
) AS CASE name
    WHEN 'input_tokens' THEN input_tokens WHEN 'output_tokens' THEN output_tokens
    WHEN 'cost_usd' THEN cost_usd WHEN 'latency_ms' THEN latency_ms
    WHEN 'fallback' THEN fallback WHEN 'refusal' THEN refusal
    WHEN 'schema_valid' THEN schema_valid
END;

-- Whether column `c` of the requests is a log column some metric reads (experiment_table.sql).
CREATE OR REPLACE MACRO metric_column(c) AS
    c = '_abgate_no_column' OR list_contains(getvariable('abgate_metric_columns'), c);

-- A correlation key's attribution window: it opens at the key's first request and is closed
-- (the key is mature, its outcomes final) once its end is no later than the end of `as_of_date`.
CREATE OR REPLACE MACRO window_end(first_ts, window_hours) AS
    first_ts + to_microseconds(CAST(window_hours * 3600e6 AS BIGINT));
CREATE OR REPLACE MACRO window_closed(first_ts, window_hours, as_of_date) AS
    window_end(first_ts, window_hours) <= as_of_date + INTERVAL 1 DAY;
