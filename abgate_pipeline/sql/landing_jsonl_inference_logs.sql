-- JSONL inference logs as landed records: the contract's fields picked out of each parsed line
-- (landing_jsonl_docs.sql), and those written as an object or array.
CREATE OR REPLACE TEMP VIEW landed AS
SELECT
    source_file,
    line_number,
    raw,
    problem,
    blank,
    CASE WHEN len(structured_keys) > 0 THEN list_transform(
        list_filter(
            getvariable('abgate_column_fields'), lambda c: list_contains(structured_keys, c.column)),
        lambda c: c.field) END AS structured_fields,
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
FROM jsonl_docs;
