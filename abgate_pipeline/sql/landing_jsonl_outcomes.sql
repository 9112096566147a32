-- JSONL outcome events (one JSON object per line) as landed records: every non-blank line is a
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
FROM parsed;
