-- Validate one landing day of inference logs and store it. The records come from landed_rows,
-- where every reader (JSONL, CSV, Parquet, OTLP, Phoenix) put them with each contract field as
-- text, so this one validation types and checks every format alike: each record gets the first
-- reason it cannot be accepted (NULL when it can). Free text is redacted here, before anything is
-- persisted. Needs the UDF abgate_redact.
-- Params: $partition_date (DATE).
CREATE OR REPLACE TEMP TABLE staged AS
WITH typed AS (
    SELECT *,
        TRY_CAST("timestamp" AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS ts,
        TRY_CAST(input_tokens AS BIGINT) AS input_tokens_value,
        TRY_CAST(output_tokens AS BIGINT) AS output_tokens_value,
        TRY_CAST(cost_usd AS DOUBLE) AS cost_usd_value,
        TRY_CAST(latency_ms AS DOUBLE) AS latency_ms_value,
        TRY_CAST(fallback AS BOOLEAN) AS fallback_value,
        TRY_CAST(refusal AS BOOLEAN) AS refusal_value,
        TRY_CAST(schema_valid AS BOOLEAN) AS schema_valid_value
    FROM landed_rows
),
reasoned AS (
    SELECT *,
        CASE
            WHEN problem IS NOT NULL THEN problem
            WHEN coalesce(request_id, '') = '' THEN 'missing required field: request_id'
            WHEN "timestamp" IS NULL THEN 'missing required field: timestamp'
            WHEN coalesce(experiment_id, '') = '' THEN 'missing required field: experiment_id'
            WHEN coalesce(variant, '') = '' THEN 'missing required field: variant'
            WHEN coalesce(unit_id, '') = '' THEN 'missing required field: unit_id'
            WHEN coalesce(correlation_key, '') = '' THEN 'missing required field: correlation_key'
            WHEN ts IS NULL THEN 'bad type: timestamp'
            WHEN input_tokens_value IS NULL AND input_tokens IS NOT NULL THEN 'bad type: input_tokens'
            WHEN output_tokens_value IS NULL AND output_tokens IS NOT NULL THEN 'bad type: output_tokens'
            WHEN cost_usd_value IS NULL AND cost_usd IS NOT NULL THEN 'bad type: cost_usd'
            WHEN latency_ms_value IS NULL AND latency_ms IS NOT NULL THEN 'bad type: latency_ms'
            WHEN fallback_value IS NULL AND fallback IS NOT NULL THEN 'bad type: fallback'
            WHEN refusal_value IS NULL AND refusal IS NOT NULL THEN 'bad type: refusal'
            WHEN schema_valid_value IS NULL AND schema_valid IS NOT NULL THEN 'bad type: schema_valid'
            WHEN CAST(ts AS DATE) <> $partition_date THEN 'timestamp outside partition'
            WHEN experiment_id NOT IN (SELECT experiment_id FROM cfg_variants) THEN 'unknown experiment_id'
            WHEN (experiment_id, variant) NOT IN (SELECT (experiment_id, variant) FROM cfg_variants) THEN 'unknown variant'
        END AS first_problem
    FROM typed
),
-- Later copies of an accepted request_id, in file and line order. Only ids and positions go
-- through the window: sorting whole records (prompts and all) would cost more than the rest.
duplicates AS (
    SELECT source_file, line_number
    FROM reasoned
    WHERE first_problem IS NULL
    QUALIFY row_number() OVER (PARTITION BY request_id ORDER BY source_file, line_number) > 1
)
SELECT r.*, coalesce(r.first_problem, CASE WHEN d.line_number IS NOT NULL THEN 'duplicate request_id' END) AS reason
FROM reasoned r
LEFT JOIN duplicates d ON d.source_file = r.source_file AND d.line_number = r.line_number;

DELETE FROM inference_logs WHERE partition_date = $partition_date;

INSERT INTO inference_logs
SELECT
    $partition_date, request_id, ts, experiment_id, variant, unit_id, correlation_key,
    trace_id, model, prompt_version, rag_index_version,
    input_tokens_value, output_tokens_value, cost_usd_value, latency_ms_value,
    finish_reason, status, fallback_value, refusal_value, schema_valid_value,
    abgate_redact(prompt), abgate_redact(response),
    map(map_keys(attributes), list_transform(map_values(attributes), lambda v: abgate_redact(v))),
    source_file, line_number
FROM staged
WHERE reason IS NULL;

DELETE FROM quarantine WHERE dataset = 'inference_logs' AND partition_date = $partition_date;

-- `raw` is the record as written (a JSONL or CSV line, an OTLP span), else its fields as JSON.
INSERT INTO quarantine
SELECT
    'inference_logs', $partition_date, source_file, line_number, reason,
    abgate_redact(coalesce(raw, CAST(to_json(struct_pack(
        request_id, "timestamp", experiment_id, variant, unit_id, correlation_key, trace_id,
        model, prompt_version, rag_index_version, input_tokens, output_tokens, cost_usd,
        latency_ms, finish_reason, status, fallback, refusal, schema_valid, prompt, response,
        attributes)) AS VARCHAR)))
FROM staged
WHERE reason IS NOT NULL;
