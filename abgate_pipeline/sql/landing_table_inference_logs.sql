-- Table-shaped inference logs (Parquet or CSV, read into `source_rows` by source_*.sql) as
-- landed records: each contract field is the column the column mapping names (by default the
-- field's own name), as text; every other column is a segment attribute.
CREATE OR REPLACE TEMP VIEW landed AS
SELECT
    _abgate_source_file AS source_file,
    _abgate_line_number AS line_number,
    _abgate_raw AS raw,
    _abgate_problem AS problem,
    COLUMNS(lambda c: is_mapped_column(c, 'request_id'))::VARCHAR AS request_id,
    COLUMNS(lambda c: is_mapped_column(c, 'timestamp'))::VARCHAR AS "timestamp",
    COLUMNS(lambda c: is_mapped_column(c, 'experiment_id'))::VARCHAR AS experiment_id,
    COLUMNS(lambda c: is_mapped_column(c, 'variant'))::VARCHAR AS variant,
    COLUMNS(lambda c: is_mapped_column(c, 'unit_id'))::VARCHAR AS unit_id,
    COLUMNS(lambda c: is_mapped_column(c, 'correlation_key'))::VARCHAR AS correlation_key,
    COLUMNS(lambda c: is_mapped_column(c, 'trace_id'))::VARCHAR AS trace_id,
    COLUMNS(lambda c: is_mapped_column(c, 'model'))::VARCHAR AS model,
    COLUMNS(lambda c: is_mapped_column(c, 'prompt_version'))::VARCHAR AS prompt_version,
    COLUMNS(lambda c: is_mapped_column(c, 'rag_index_version'))::VARCHAR AS rag_index_version,
    COLUMNS(lambda c: is_mapped_column(c, 'input_tokens'))::VARCHAR AS input_tokens,
    COLUMNS(lambda c: is_mapped_column(c, 'output_tokens'))::VARCHAR AS output_tokens,
    COLUMNS(lambda c: is_mapped_column(c, 'cost_usd'))::VARCHAR AS cost_usd,
    COLUMNS(lambda c: is_mapped_column(c, 'latency_ms'))::VARCHAR AS latency_ms,
    COLUMNS(lambda c: is_mapped_column(c, 'finish_reason'))::VARCHAR AS finish_reason,
    COLUMNS(lambda c: is_mapped_column(c, 'status'))::VARCHAR AS status,
    COLUMNS(lambda c: is_mapped_column(c, 'fallback'))::VARCHAR AS fallback,
    COLUMNS(lambda c: is_mapped_column(c, 'refusal'))::VARCHAR AS refusal,
    COLUMNS(lambda c: is_mapped_column(c, 'schema_valid'))::VARCHAR AS schema_valid,
    COLUMNS(lambda c: is_mapped_column(c, 'prompt'))::VARCHAR AS prompt,
    COLUMNS(lambda c: is_mapped_column(c, 'response'))::VARCHAR AS response,
    non_null_text(struct_pack(*COLUMNS(lambda c: is_segment_column(c)))) AS attributes
FROM source_rows;
