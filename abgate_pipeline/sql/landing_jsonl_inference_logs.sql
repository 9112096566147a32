-- JSONL inference logs (one JSON object per line) as landed records: every non-blank line is a
-- record, parsed once into key -> text (strings unquoted, numbers and objects as written). A line
-- that is not a JSON object lands with its problem, for the quarantine.
CREATE OR REPLACE TEMP VIEW landed AS
WITH lines AS (
    SELECT filename AS source_file,
           unnest(parts) AS line,
           unnest(generate_series(1, len(parts))) AS line_number
    FROM (
        SELECT filename, string_split(content, chr(10)) AS parts
        FROM read_text(getvariable('abgate_files'))
    )
),
checked AS (
    SELECT *, json_valid(line) AS is_json FROM lines WHERE trim(line) <> ''
),
parsed AS (
    SELECT *,
        CASE WHEN is_json AND json_type(line) = 'OBJECT'
             THEN json_transform(line, '"MAP(VARCHAR, VARCHAR)"') END AS doc
    FROM checked
)
SELECT
    source_file,
    line_number,
    line AS raw,
    CASE
        WHEN NOT is_json THEN 'invalid JSON'
        WHEN json_type(line) <> 'OBJECT' THEN 'not a JSON object'
        WHEN doc IS NULL THEN 'repeated key in JSON object'
    END AS problem,
    doc[getvariable('abgate_columns').request_id] AS request_id,
    doc[getvariable('abgate_columns')."timestamp"] AS "timestamp",
    doc[getvariable('abgate_columns').experiment_id] AS experiment_id,
    doc[getvariable('abgate_columns').variant] AS variant,
    doc[getvariable('abgate_columns').unit_id] AS unit_id,
    doc[getvariable('abgate_columns').correlation_key] AS correlation_key,
    doc[getvariable('abgate_columns').trace_id] AS trace_id,
    doc[getvariable('abgate_columns').model] AS model,
    doc[getvariable('abgate_columns').prompt_version] AS prompt_version,
    doc[getvariable('abgate_columns').rag_index_version] AS rag_index_version,
    doc[getvariable('abgate_columns').input_tokens] AS input_tokens,
    doc[getvariable('abgate_columns').output_tokens] AS output_tokens,
    doc[getvariable('abgate_columns').cost_usd] AS cost_usd,
    doc[getvariable('abgate_columns').latency_ms] AS latency_ms,
    doc[getvariable('abgate_columns').finish_reason] AS finish_reason,
    doc[getvariable('abgate_columns').status] AS status,
    doc[getvariable('abgate_columns').fallback] AS fallback,
    doc[getvariable('abgate_columns').refusal] AS refusal,
    doc[getvariable('abgate_columns').schema_valid] AS schema_valid,
    doc[getvariable('abgate_columns').prompt] AS prompt,
    doc[getvariable('abgate_columns').response] AS response,
    map_from_entries(list_filter(
        map_entries(doc),
        lambda e: e.value IS NOT NULL AND is_segment_column(e.key))) AS attributes
FROM parsed;
