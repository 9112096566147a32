-- Validate one landing day of outcome events and store it (same shape as
-- stage_inference_logs.sql: every reader's records from landed_rows, one validation, a view of
-- the typed records read for the checks and again for the rows stored). The folder date is the
-- day the event arrived.
-- Params: $partition_date (DATE).
CREATE OR REPLACE TEMP VIEW typed_rows AS
SELECT *,
    double_value(value) AS value_number,
    timestamp_value("timestamp") AS ts,
    -- the first id or label written as an object or array: it is no value of the field
    CASE WHEN len(structured_fields) > 0 THEN list_filter(
        ['event_id', 'correlation_key', 'outcome', 'source', 'unit_id'],
        lambda f: list_contains(structured_fields, f))[1] END AS structured_field
FROM landed_rows;

-- Every record's fate, by its position: `reason` is NULL for a record to store. A value is finite
-- and at most max_abs_value() in magnitude (number_problem in landing_macros.sql), and 0 or 1 for
-- an outcome a proportion metric reads (the share of keys with a positive outcome).
CREATE OR REPLACE TEMP TABLE staged AS
WITH reasoned AS (
    SELECT source_file, line_number, event_id,
        coalesce(
            problem,
            CASE
                WHEN coalesce(event_id, '') = '' THEN 'missing required field: event_id'
                WHEN coalesce(correlation_key, '') = '' THEN 'missing required field: correlation_key'
                WHEN coalesce(outcome, '') = '' THEN 'missing required field: outcome'
                WHEN value IS NULL THEN 'missing required field: value'
                WHEN "timestamp" IS NULL THEN 'missing required field: timestamp'
                WHEN structured_field IS NOT NULL THEN 'bad type: ' || structured_field
            END,
            number_problem(value, value_number, 'value', false, false),
            CASE
                WHEN value_number NOT IN (0, 1) AND outcome IN (
                    SELECT num_name FROM cfg_metrics WHERE kind = 'proportion' AND num_source = 'outcome'
                ) THEN 'out of range: value'
                WHEN ts IS NULL THEN 'bad type: timestamp'
                WHEN CAST(ts AS DATE) <> $partition_date THEN 'timestamp outside partition'
            END
        ) AS first_problem
    FROM typed_rows
),
-- event_ids accepted more than once: few, so only their records are sorted to find the copies.
repeated AS (
    SELECT event_id FROM reasoned WHERE first_problem IS NULL GROUP BY event_id HAVING count(*) > 1
),
-- Later copies of an accepted event_id, in file and line order.
duplicates AS (
    SELECT source_file, line_number
    FROM reasoned SEMI JOIN repeated USING (event_id)
    WHERE first_problem IS NULL
    QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY source_file, line_number) > 1
)
SELECT r.source_file, r.line_number,
    coalesce(r.first_problem, CASE WHEN d.line_number IS NOT NULL THEN 'duplicate event_id' END) AS reason
FROM reasoned r
LEFT JOIN duplicates d ON d.source_file = r.source_file AND d.line_number = r.line_number;

DELETE FROM outcome_events WHERE partition_date = $partition_date;

INSERT INTO outcome_events
SELECT
    $partition_date, event_id, correlation_key, outcome, value_number, ts, source,
    source_file, line_number, nullif(unit_id, '')
FROM typed_rows t
ANTI JOIN staged s
    ON s.source_file = t.source_file AND s.line_number = t.line_number AND s.reason IS NOT NULL;

DELETE FROM quarantine WHERE dataset = 'outcomes' AND partition_date = $partition_date;

INSERT INTO quarantine
SELECT
    'outcomes', $partition_date, l.source_file, l.line_number, s.reason,
    redact(coalesce(raw, CAST(to_json(struct_pack(
        event_id, correlation_key, outcome, value := CAST(value AS VARCHAR),
        "timestamp" := CAST("timestamp" AS VARCHAR), source, unit_id, attributes)) AS VARCHAR)))
FROM landed_rows l
JOIN staged s
    ON s.source_file = l.source_file AND s.line_number = l.line_number AND s.reason IS NOT NULL;
