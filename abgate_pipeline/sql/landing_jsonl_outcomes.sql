-- JSONL outcome events as landed records: the contract's fields picked out of each parsed line
-- (landing_jsonl_docs.sql).
CREATE OR REPLACE TEMP VIEW landed AS
SELECT
    source_file,
    line_number,
    raw,
    problem,
    blank,
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
