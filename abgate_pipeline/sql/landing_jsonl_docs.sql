-- JSONL landing files (one JSON object per line) as parsed documents: every line is a record,
-- parsed once into key -> text (strings unquoted, numbers and objects as written), except blank
-- lines, which are kept only to be counted (`blank`; landed_rows leaves them out). A line that is
-- not UTF-8, or not a JSON object, keeps its problem for the quarantine, with its bytes escaped
-- in `raw` when they are not text (text_files.sql, file_lines in landing_macros.sql).
-- landing_jsonl_<dataset>.sql picks the contract's fields out of `doc`; `structured_keys` are the
-- keys whose values are objects or arrays (their `doc` text is the JSON), for the validation.
CREATE OR REPLACE TEMP VIEW jsonl_docs AS
WITH parts AS (
    SELECT source_file, text IS NULL AS escaped, file_lines(text, content) AS parts FROM text_files
),
lines AS (
    SELECT source_file,
           escaped,
           unnest(parts) AS part,
           unnest(generate_series(1, len(parts))) AS line_number,
           len(parts) AS n_parts
    FROM parts
),
decoded AS (
    SELECT source_file, line_number, part,
           line_text(decoded_line(part, escaped), line_number) AS line
    FROM lines
    WHERE line_number < n_parts OR part <> ''  -- the text after a file's final newline is no line
),
checked AS (
    SELECT *, json_valid(line) AS is_json FROM decoded
),
parsed AS (
    SELECT *,
        CASE WHEN is_json AND json_type(line) = 'OBJECT'
             THEN json_transform(line, '"MAP(VARCHAR, VARCHAR)"') END AS doc
    FROM checked
),
structured AS (
    SELECT *, CASE WHEN doc IS NOT NULL THEN structured_keys(line) END AS structured_keys
    FROM parsed
)
SELECT
    source_file,
    line_number,
    coalesce(line, escaped_bytes(regexp_replace(part, '\\x0D$', ''))) AS raw,
    CASE
        WHEN line IS NULL THEN 'invalid UTF-8'
        WHEN NOT is_json THEN 'invalid JSON'
        WHEN json_type(line) <> 'OBJECT' THEN 'not a JSON object'
        WHEN doc IS NULL THEN 'repeated key in JSON object'
    END AS problem,
    doc,
    structured_keys,
    CASE WHEN is_json OR line IS NULL THEN false ELSE is_blank(line) END AS blank
FROM structured;
