-- Parse one landing day of JSONL inference logs inside DuckDB, one row per non-blank line, with
-- the first reason it cannot be accepted (NULL when it can). Free text is redacted here, before
-- anything is persisted. Needs the UDF abgate_redact.
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
        j->>'request_id' AS request_id,
        TRY_CAST(j->>'timestamp' AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS ts,
        j->>'experiment_id' AS experiment_id,
        j->>'variant' AS variant,
        j->>'unit_id' AS unit_id,
        j->>'correlation_key' AS correlation_key,
        TRY_CAST(j->>'input_tokens' AS BIGINT) AS input_tokens,
        TRY_CAST(j->>'output_tokens' AS BIGINT) AS output_tokens,
        TRY_CAST(j->>'cost_usd' AS DOUBLE) AS cost_usd,
        TRY_CAST(j->>'latency_ms' AS DOUBLE) AS latency_ms,
        TRY_CAST(j->>'fallback' AS BOOLEAN) AS fallback,
        TRY_CAST(j->>'refusal' AS BOOLEAN) AS refusal,
        TRY_CAST(j->>'schema_valid' AS BOOLEAN) AS schema_valid
    FROM objects
),
reasoned AS (
    SELECT *,
        CASE
            WHEN NOT is_json THEN 'invalid JSON'
            WHEN NOT is_object THEN 'not a JSON object'
            WHEN coalesce(request_id, '') = '' THEN 'missing required field: request_id'
            WHEN j->>'timestamp' IS NULL THEN 'missing required field: timestamp'
            WHEN coalesce(experiment_id, '') = '' THEN 'missing required field: experiment_id'
            WHEN coalesce(variant, '') = '' THEN 'missing required field: variant'
            WHEN coalesce(unit_id, '') = '' THEN 'missing required field: unit_id'
            WHEN coalesce(correlation_key, '') = '' THEN 'missing required field: correlation_key'
            WHEN ts IS NULL THEN 'bad type: timestamp'
            WHEN input_tokens IS NULL AND j->>'input_tokens' IS NOT NULL THEN 'bad type: input_tokens'
            WHEN output_tokens IS NULL AND j->>'output_tokens' IS NOT NULL THEN 'bad type: output_tokens'
            WHEN cost_usd IS NULL AND j->>'cost_usd' IS NOT NULL THEN 'bad type: cost_usd'
            WHEN latency_ms IS NULL AND j->>'latency_ms' IS NOT NULL THEN 'bad type: latency_ms'
            WHEN fallback IS NULL AND j->>'fallback' IS NOT NULL THEN 'bad type: fallback'
            WHEN refusal IS NULL AND j->>'refusal' IS NOT NULL THEN 'bad type: refusal'
            WHEN schema_valid IS NULL AND j->>'schema_valid' IS NOT NULL THEN 'bad type: schema_valid'
            WHEN CAST(ts AS DATE) <> $partition_date THEN 'timestamp outside partition'
            WHEN experiment_id NOT IN (SELECT experiment_id FROM cfg_variants) THEN 'unknown experiment_id'
            WHEN (experiment_id, variant) NOT IN (SELECT (experiment_id, variant) FROM cfg_variants) THEN 'unknown variant'
        END AS first_problem
    FROM typed
)
SELECT *,
    CASE
        WHEN first_problem IS NOT NULL THEN first_problem
        WHEN row_number() OVER (
            PARTITION BY request_id, first_problem IS NULL ORDER BY source_file, line_number
        ) > 1 THEN 'duplicate request_id'
    END AS reason
FROM reasoned;

DELETE FROM inference_logs WHERE partition_date = $partition_date;

INSERT INTO inference_logs
SELECT
    $partition_date, request_id, ts, experiment_id, variant, unit_id, correlation_key,
    j->>'trace_id', j->>'model', j->>'prompt_version', j->>'rag_index_version',
    input_tokens, output_tokens, cost_usd, latency_ms,
    j->>'finish_reason', j->>'status', fallback, refusal, schema_valid,
    abgate_redact(j->>'prompt'), abgate_redact(j->>'response'),
    map_from_entries(list_transform(
        list_filter(json_keys(j), lambda k: k NOT IN (
            'request_id', 'timestamp', 'experiment_id', 'variant', 'unit_id', 'correlation_key',
            'trace_id', 'model', 'prompt_version', 'rag_index_version', 'input_tokens',
            'output_tokens', 'cost_usd', 'latency_ms', 'finish_reason', 'status', 'fallback',
            'refusal', 'schema_valid', 'prompt', 'response')),
        lambda k: {'key': k, 'value': abgate_redact(j->>k)})),
    source_file, line_number
FROM staged
WHERE reason IS NULL;

DELETE FROM quarantine WHERE dataset = 'inference_logs' AND partition_date = $partition_date;

INSERT INTO quarantine
SELECT 'inference_logs', $partition_date, source_file, line_number, reason, abgate_redact(line)
FROM staged
WHERE reason IS NOT NULL;
