-- JSONL outcome events as landed records: the contract's fields picked out of each parsed line
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
    doc[getvariable('abgate_columns').event_id] AS event_id,
    doc[getvariable('abgate_columns').correlation_key] AS correlation_key,
    doc[getvariable('abgate_columns').outcome] AS outcome,
    doc[getvariable('abgate_columns').value] AS value,
    doc[getvariable('abgate_columns')."timestamp"] AS "timestamp",
    doc[getvariable('abgate_columns').source] AS source,
    doc[getvariable('abgate_columns').unit_id] AS unit_id,
    map_from_entries(list_filter(
        map_entries(doc),
        lambda e: e.value IS NOT NULL AND is_segment_column(e.key))) AS attributes
FROM jsonl_docs;
