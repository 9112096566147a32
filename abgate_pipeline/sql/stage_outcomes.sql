-- Validate one landing day of outcome events and store it (same shape as
-- stage_inference_logs.sql: every reader's records from landed_rows, one validation). The folder
-- date is the day the event arrived.
-- Params: $partition_date (DATE).
CREATE OR REPLACE TEMP TABLE staged AS
WITH typed AS (
    SELECT *,
        TRY_CAST(value AS DOUBLE) AS value_number,
        TRY_CAST("timestamp" AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS ts
    FROM landed_rows
),
reasoned AS (
    SELECT *,
        CASE
            WHEN problem IS NOT NULL THEN problem
            WHEN coalesce(event_id, '') = '' THEN 'missing required field: event_id'
            WHEN coalesce(correlation_key, '') = '' THEN 'missing required field: correlation_key'
            WHEN coalesce(outcome, '') = '' THEN 'missing required field: outcome'
            WHEN value IS NULL THEN 'missing required field: value'
            WHEN "timestamp" IS NULL THEN 'missing required field: timestamp'
            WHEN value_number IS NULL OR NOT isfinite(value_number) THEN 'bad type: value'
            WHEN ts IS NULL THEN 'bad type: timestamp'
            WHEN CAST(ts AS DATE) <> $partition_date THEN 'timestamp outside partition'
        END AS first_problem
    FROM typed
),
duplicates AS (
    SELECT source_file, line_number
    FROM reasoned
    WHERE first_problem IS NULL
    QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY source_file, line_number) > 1
)
SELECT r.*, coalesce(r.first_problem, CASE WHEN d.line_number IS NOT NULL THEN 'duplicate event_id' END) AS reason
FROM reasoned r
LEFT JOIN duplicates d ON d.source_file = r.source_file AND d.line_number = r.line_number;

DELETE FROM outcome_events WHERE partition_date = $partition_date;

INSERT INTO outcome_events
SELECT
    $partition_date, event_id, correlation_key, outcome, value_number, ts, source,
    source_file, line_number, nullif(unit_id, '')
FROM staged
WHERE reason IS NULL;

DELETE FROM quarantine WHERE dataset = 'outcomes' AND partition_date = $partition_date;

INSERT INTO quarantine
SELECT
    'outcomes', $partition_date, source_file, line_number, reason,
    abgate_redact(coalesce(raw, CAST(to_json(struct_pack(
        event_id, correlation_key, outcome, value, "timestamp", source, unit_id, attributes)) AS VARCHAR)))
FROM staged
WHERE reason IS NOT NULL;
