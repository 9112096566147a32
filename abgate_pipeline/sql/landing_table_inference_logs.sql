-- Table-shaped inference logs (Parquet or CSV, read into `source_rows` by source_*.sql) as
-- landed records: each contract field is the column the column mapping names (by default the
-- field's own name), as text; every other column is a segment attribute. The typed fields
-- (timestamp, counts, amounts, flags) keep the column's type instead: the validation reads every
-- type as its text anyway (the *_value macros in landing_macros.sql), and printing a Parquet
-- timestamp for it to parse back cost more than reading the column.

-- Whether the batch has segment columns (see is_segment_struct_column).
SET VARIABLE abgate_has_segments = (
    SELECT count(*) > 0 FROM (DESCRIBE source_rows) WHERE is_segment_column(column_name));

-- The contract fields whose column holds objects or lists (a Parquet struct, map, union, list or
-- array), not values: a column's type is the same for every row of the batch.
SET VARIABLE abgate_structured_fields = (
    SELECT coalesce(list(c.field ORDER BY c.field), []::VARCHAR[])
    FROM (DESCRIBE source_rows) d
    JOIN (SELECT unnest(getvariable('abgate_column_fields'), recursive := true)) c
        ON lower(d.column_name) = lower(c.column)
    WHERE d.column_type LIKE 'STRUCT(%' OR d.column_type LIKE 'MAP(%'
       OR d.column_type LIKE 'UNION(%' OR d.column_type LIKE '%]');

CREATE OR REPLACE TEMP VIEW landed AS
SELECT
    _abgate_source_file AS source_file,
    _abgate_line_number AS line_number,
    _abgate_raw AS raw,
    _abgate_problem AS problem,
    getvariable('abgate_structured_fields') AS structured_fields,
    COLUMNS(lambda c: is_mapped_column(c, 'request_id'))::VARCHAR AS request_id,
    COLUMNS(lambda c: is_mapped_column(c, 'timestamp')) AS "timestamp",
    COLUMNS(lambda c: is_mapped_column(c, 'experiment_id'))::VARCHAR AS experiment_id,
    COLUMNS(lambda c: is_mapped_column(c, 'variant'))::VARCHAR AS variant,
    COLUMNS(lambda c: is_mapped_column(c, 'unit_id'))::VARCHAR AS unit_id,
    COLUMNS(lambda c: is_mapped_column(c, 'correlation_key'))::VARCHAR AS correlation_key,
    COLUMNS(lambda c: is_mapped_column(c, 'trace_id'))::VARCHAR AS trace_id,
    COLUMNS(lambda c: is_mapped_column(c, 'model'))::VARCHAR AS model,
    COLUMNS(lambda c: is_mapped_column(c, 'prompt_version'))::VARCHAR AS prompt_version,
    COLUMNS(lambda c: is_mapped_column(c, 'rag_index_version'))::VARCHAR AS rag_index_version,
    COLUMNS(lambda c: is_mapped_column(c, 'input_tokens')) AS input_tokens,
    COLUMNS(lambda c: is_mapped_column(c, 'output_tokens')) AS output_tokens,
    COLUMNS(lambda c: is_mapped_column(c, 'cost_usd')) AS cost_usd,
    COLUMNS(lambda c: is_mapped_column(c, 'latency_ms')) AS latency_ms,
    COLUMNS(lambda c: is_mapped_column(c, 'finish_reason'))::VARCHAR AS finish_reason,
    COLUMNS(lambda c: is_mapped_column(c, 'status'))::VARCHAR AS status,
    COLUMNS(lambda c: is_mapped_column(c, 'fallback')) AS fallback,
    COLUMNS(lambda c: is_mapped_column(c, 'refusal')) AS refusal,
    COLUMNS(lambda c: is_mapped_column(c, 'schema_valid')) AS schema_valid,
    COLUMNS(lambda c: is_mapped_column(c, 'prompt'))::VARCHAR AS prompt,
    COLUMNS(lambda c: is_mapped_column(c, 'response'))::VARCHAR AS response,
    non_null_text(struct_pack(*COLUMNS(lambda c: is_segment_struct_column(c)))) AS attributes
FROM source_rows;
