-- Parse one landing day of JSONL outcome events inside DuckDB (same shape as
-- stage_inference_logs.sql). The folder date is the day the event arrived.
-- Params: $files (list of paths), $partition_date (DATE).
CREATE OR REPLACE TEMP TABLE staged AS
WITH lines AS (
    SELECT filename AS source_file,
           unnest(parts) AS line,
           unnest(generate_series(1, len(parts))) AS line_number
    FROM (SELECT filename, string_split(content, chr(10)) AS parts FROM read_text($files))
),
checked AS (
    SELECT *, json_valid(line) AS is_json FROM lines WHERE trim(line) <> ''
),
docs AS (
    SELECT *, (CASE WHEN is_json THEN line END)::JSON AS doc FROM checked
),
objects AS (
    SELECT *, CASE WHEN json_type(doc) = 'OBJECT' THEN doc END AS j FROM docs
),
typed AS (
    SELECT
        source_file, line_number, line, is_json, j IS NOT NULL AS is_object, j,
        j->>'event_id' AS event_id,
        j->>'correlation_key' AS correlation_key,
        j->>'outcome' AS outcome,
        TRY_CAST(j->>'value' AS DOUBLE) AS value,
        TRY_CAST(j->>'timestamp' AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS ts,
        j->>'source' AS source
    FROM objects
),
reasoned AS (
    SELECT *,
        CASE
            WHEN NOT is_json THEN 'invalid JSON'
            WHEN NOT is_object THEN 'not a JSON object'
            WHEN coalesce(event_id, '') = '' THEN 'missing required field: event_id'
            WHEN coalesce(correlation_key, '') = '' THEN 'missing required field: correlation_key'
            WHEN coalesce(outcome, '') = '' THEN 'missing required field: outcome'
            WHEN j->>'value' IS NULL THEN 'missing required field: value'
            WHEN j->>'timestamp' IS NULL THEN 'missing required field: timestamp'
            WHEN value IS NULL OR NOT isfinite(value) THEN 'bad type: value'
            WHEN ts IS NULL THEN 'bad type: timestamp'
            WHEN CAST(ts AS DATE) <> $partition_date THEN 'timestamp outside partition'
        END AS first_problem
    FROM typed
)
SELECT *,
    CASE
        WHEN first_problem IS NOT NULL THEN first_problem
        WHEN row_number() OVER (
            PARTITION BY event_id, first_problem IS NULL ORDER BY source_file, line_number
        ) > 1 THEN 'duplicate event_id'
    END AS reason
FROM reasoned;

DELETE FROM outcome_events WHERE partition_date = $partition_date;

INSERT INTO outcome_events
SELECT $partition_date, event_id, correlation_key, outcome, value, ts, source, source_file, line_number,
       nullif(j->>'unit_id', '')
FROM staged
WHERE reason IS NULL;

DELETE FROM quarantine WHERE dataset = 'outcomes' AND partition_date = $partition_date;

INSERT INTO quarantine
SELECT 'outcomes', $partition_date, source_file, line_number, reason, abgate_redact(line)
FROM staged
WHERE reason IS NOT NULL;
