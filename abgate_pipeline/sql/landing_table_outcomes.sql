-- Table-shaped outcome events (Parquet or CSV, read into `source_rows` by source_*.sql) as
-- landed records: each contract field is the column the column mapping names (by default the
-- field's own name), as text; every other column is a segment attribute. The value and the
-- timestamp keep the column's type (see landing_table_inference_logs.sql).

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
    COLUMNS(lambda c: is_mapped_column(c, 'event_id'))::VARCHAR AS event_id,
    COLUMNS(lambda c: is_mapped_column(c, 'correlation_key'))::VARCHAR AS correlation_key,
    COLUMNS(lambda c: is_mapped_column(c, 'outcome'))::VARCHAR AS outcome,
    COLUMNS(lambda c: is_mapped_column(c, 'value')) AS value,
    COLUMNS(lambda c: is_mapped_column(c, 'timestamp')) AS "timestamp",
    COLUMNS(lambda c: is_mapped_column(c, 'source'))::VARCHAR AS source,
    COLUMNS(lambda c: is_mapped_column(c, 'unit_id'))::VARCHAR AS unit_id,
    non_null_text(struct_pack(*COLUMNS(lambda c: is_segment_struct_column(c)))) AS attributes
FROM source_rows;
