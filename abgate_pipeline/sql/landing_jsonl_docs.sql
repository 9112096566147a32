-- JSONL landing files (one JSON object per line) as parsed documents: every non-blank line is a
-- record, parsed once into key -> text (strings unquoted, numbers and objects as written). A line
-- that is not a JSON object keeps its problem, for the quarantine. landing_jsonl_<dataset>.sql
-- picks the contract's fields out of `doc`.
CREATE OR REPLACE TEMP VIEW jsonl_docs AS
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
    doc
FROM parsed;
