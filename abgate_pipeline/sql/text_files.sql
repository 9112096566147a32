-- The batch's text files (JSONL, OTLP) split by whether they are UTF-8 throughout. read_text
-- refuses a whole file for one byte that is not, so only the files that are (all of them, nearly
-- always) are read as text; the others are read as bytes (read_blob) and decoded line by line
-- (file_lines in landing_macros.sql), so a bad byte costs its line only. Finding them costs one
-- read of the bytes; decoding a whole day as bytes instead would hold each file twice in memory.
SET VARIABLE abgate_undecodable_files = (
    SELECT coalesce(list(filename ORDER BY filename), []::VARCHAR[])
    FROM read_blob(getvariable('abgate_files'))
    WHERE try(decode(content)) IS NULL
);

SET VARIABLE abgate_text_files = list_filter(
    getvariable('abgate_files'),
    lambda f: NOT list_contains(getvariable('abgate_undecodable_files'), f));

-- Every text file as `text` (read as UTF-8) or `content` (its bytes, when it is not UTF-8).
CREATE OR REPLACE TEMP VIEW text_files AS
SELECT filename AS source_file, content AS text, NULL::BLOB AS content
FROM read_text(getvariable('abgate_text_files'))
UNION ALL
SELECT filename, NULL, content FROM read_blob(getvariable('abgate_undecodable_files'));
