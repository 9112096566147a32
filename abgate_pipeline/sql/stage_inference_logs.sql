-- Validate one landing day of inference logs and store it. The records come from landed_rows,
-- where every reader (JSONL, CSV, Parquet, OTLP, Phoenix) put them with each contract field as
-- text (or in a Parquet column's type, read as its text), so this one validation types and checks
-- every format alike: each record gets the first reason it cannot be accepted (NULL when it can).
-- Free text is redacted here, before anything is persisted. Needs the UDF abgate_redact and
-- landing_macros.sql.
-- Params: $partition_date (DATE).

-- The records with their fields typed (NULL where the field is not a value of the type). A view,
-- read once for the checks and once for the rows stored: copying every record into a table in
-- between cost more than reading landed_rows again (see landing_direct.sql). Counts are read as
-- numbers (number_problem checks that they are whole) and stored as BIGINT.
CREATE OR REPLACE TEMP VIEW typed_rows AS
SELECT *,
    timestamp_value("timestamp") AS ts,
    double_value(input_tokens) AS input_tokens_value,
    double_value(output_tokens) AS output_tokens_value,
    double_value(cost_usd) AS cost_usd_value,
    double_value(latency_ms) AS latency_ms_value,
    boolean_value(fallback) AS fallback_value,
    boolean_value(refusal) AS refusal_value,
    boolean_value(schema_valid) AS schema_valid_value,
    -- the first id or label written as an object or array: it is no value of the field. Finish
    -- reasons are a list by convention, and prompts and responses may be lists of messages.
    CASE WHEN len(structured_fields) > 0 THEN list_filter(
        ['request_id', 'experiment_id', 'variant', 'unit_id', 'correlation_key', 'trace_id',
         'model', 'prompt_version', 'rag_index_version', 'status'],
        lambda f: list_contains(structured_fields, f))[1] END AS structured_field
FROM landed_rows;

-- Every record's fate, by its position: `reason` is NULL for a record to store. Only positions
-- and reasons are kept; the records are read again where they are stored. A value is valid when
-- it is of its field's type and in its range: counts whole, counts, costs and durations finite,
-- non-negative and at most max_abs_value() (number_problem in landing_macros.sql).
CREATE OR REPLACE TEMP TABLE staged AS
WITH reasoned AS (
    SELECT source_file, line_number, request_id,
        coalesce(
            problem,
            CASE
                WHEN coalesce(request_id, '') = '' THEN 'missing required field: request_id'
                WHEN "timestamp" IS NULL THEN 'missing required field: timestamp'
                WHEN coalesce(experiment_id, '') = '' THEN 'missing required field: experiment_id'
                WHEN coalesce(variant, '') = '' THEN 'missing required field: variant'
                WHEN coalesce(unit_id, '') = '' THEN 'missing required field: unit_id'
                WHEN coalesce(correlation_key, '') = '' THEN 'missing required field: correlation_key'
                WHEN structured_field IS NOT NULL THEN 'bad type: ' || structured_field
                WHEN ts IS NULL THEN 'bad type: timestamp'
            END,
            number_problem(input_tokens, input_tokens_value, 'input_tokens', true, true),
            number_problem(output_tokens, output_tokens_value, 'output_tokens', true, true),
            number_problem(cost_usd, cost_usd_value, 'cost_usd', false, true),
            number_problem(latency_ms, latency_ms_value, 'latency_ms', false, true),
            CASE
                WHEN fallback_value IS NULL AND fallback IS NOT NULL THEN 'bad type: fallback'
                WHEN refusal_value IS NULL AND refusal IS NOT NULL THEN 'bad type: refusal'
                WHEN schema_valid_value IS NULL AND schema_valid IS NOT NULL THEN 'bad type: schema_valid'
                WHEN CAST(ts AS DATE) <> $partition_date THEN 'timestamp outside partition'
                WHEN experiment_id NOT IN (SELECT experiment_id FROM cfg_variants) THEN 'unknown experiment_id'
                WHEN (experiment_id, variant) NOT IN (SELECT (experiment_id, variant) FROM cfg_variants) THEN 'unknown variant'
            END
        ) AS first_problem
    FROM typed_rows
),
-- request_ids accepted more than once: few, so only their records are sorted to find the copies.
repeated AS (
    SELECT request_id FROM reasoned WHERE first_problem IS NULL GROUP BY request_id HAVING count(*) > 1
),
-- Later copies of an accepted request_id, in file and line order.
duplicates AS (
    SELECT source_file, line_number
    FROM reasoned SEMI JOIN repeated USING (request_id)
    WHERE first_problem IS NULL
    QUALIFY row_number() OVER (PARTITION BY request_id ORDER BY source_file, line_number) > 1
)
SELECT r.source_file, r.line_number,
    coalesce(r.first_problem, CASE WHEN d.line_number IS NOT NULL THEN 'duplicate request_id' END) AS reason
FROM reasoned r
LEFT JOIN duplicates d ON d.source_file = r.source_file AND d.line_number = r.line_number;

DELETE FROM inference_logs WHERE partition_date = $partition_date;

INSERT INTO inference_logs
SELECT
    $partition_date, request_id, ts, experiment_id, variant, unit_id, correlation_key,
    trace_id, model, prompt_version, rag_index_version,
    CAST(input_tokens_value AS BIGINT), CAST(output_tokens_value AS BIGINT), cost_usd_value,
    latency_ms_value,
    finish_reason, status, fallback_value, refusal_value, schema_valid_value,
    redact(prompt), redact(response), redact_values(attributes),
    source_file, line_number
FROM typed_rows t
ANTI JOIN staged s
    ON s.source_file = t.source_file AND s.line_number = t.line_number AND s.reason IS NOT NULL;

DELETE FROM quarantine WHERE dataset = 'inference_logs' AND partition_date = $partition_date;

-- `raw` is the record as written (a JSONL or CSV line, an OTLP span), else its fields as JSON,
-- every field as text whatever type its reader kept.
INSERT INTO quarantine
SELECT
    'inference_logs', $partition_date, l.source_file, l.line_number, s.reason,
    redact(coalesce(raw, CAST(to_json(struct_pack(
        request_id, "timestamp" := CAST("timestamp" AS VARCHAR), experiment_id, variant,
        unit_id, correlation_key, trace_id, model, prompt_version, rag_index_version,
        input_tokens := CAST(input_tokens AS VARCHAR),
        output_tokens := CAST(output_tokens AS VARCHAR),
        cost_usd := CAST(cost_usd AS VARCHAR), latency_ms := CAST(latency_ms AS VARCHAR),
        finish_reason, status, fallback := CAST(fallback AS VARCHAR),
        refusal := CAST(refusal AS VARCHAR), schema_valid := CAST(schema_valid AS VARCHAR),
        prompt, response, attributes)) AS VARCHAR)))
FROM landed_rows l
JOIN staged s
    ON s.source_file = l.source_file AND s.line_number = l.line_number AND s.reason IS NOT NULL;
