-- One CSV landing file as `source_rows` for landing_table_*.sql, read as RFC 4180 says: comma
-- delimiter, `"` quotes, `""` for a quote inside a quoted value, a header row whose names
-- ($csv_columns, formats.csv_columns) are the columns. The dialect is fixed rather than sniffed:
-- one unterminated quote would make the sniffer turn quoting off for the whole file, spoiling
-- every record with a quoted comma. Every value is read as text, so the shared validation, not the
-- CSV reader, decides what is a bad value. A record the reader cannot parse (too many or too few
-- fields, broken quoting, bytes that are not UTF-8, longer than 16 MiB) becomes a row with its
-- problem and the record as written, for the quarantine, instead of failing the run. One file at
-- a time: DuckDB keeps rejected records only without union_by_name.
SET VARIABLE abgate_csv_columns = $csv_columns;

DROP TABLE IF EXISTS csv_rejects;

DROP TABLE IF EXISTS csv_reject_scans;

CREATE OR REPLACE TEMP TABLE csv_rows AS
SELECT *, row_number() OVER () AS _abgate_ordinal  -- OVER () numbers rows in file order
FROM read_csv(
    getvariable('abgate_files'),
    header = true,
    auto_detect = false,
    columns = getvariable('abgate_csv_columns'),
    delim = ',',
    quote = '"',
    escape = '"',
    max_line_size = 16777216,
    filename = '_abgate_source_file',
    store_rejects = true,
    rejects_table = 'csv_rejects',
    rejects_scan = 'csv_reject_scans'
);

-- The file's bytes, read only when a record is not UTF-8 (the reader reports such a record with
-- each undecodable byte as `?`): the quarantine keeps them, escaped as for JSONL lines.
SET VARIABLE abgate_csv_undecodable = (
    SELECT CASE WHEN count(*) > 0 THEN getvariable('abgate_files') ELSE []::VARCHAR[] END
    FROM csv_rejects
    WHERE error_type = 'INVALID ENCODING'
);

-- One row per rejected record. DuckDB numbers records from 1 (the header) and may report several
-- errors for one; the first of encoding, quoting, size, field count names it. A record whose
-- broken quoting ran on into later lines names the lines it swallowed: those lines are not
-- records of their own any more, and the parser resynchronises after them.
CREATE OR REPLACE TEMP TABLE csv_rejected AS
WITH errors AS (
    SELECT line, arg_min(
        {'error_type': error_type, 'csv_line': csv_line, 'position': line_byte_position},
        CASE error_type WHEN 'INVALID ENCODING' THEN 1 WHEN 'UNQUOTED VALUE' THEN 2
                        WHEN 'LINE SIZE OVER MAXIMUM' THEN 3 ELSE 4 END) AS e
    FROM csv_rejects
    GROUP BY line
),
spans AS (
    SELECT line, e.error_type, e.csv_line, e.position,
           len(string_split(rtrim(e.csv_line, E'\r\n'), chr(10))) - 1 AS extra_lines
    FROM errors
)
SELECT
    line AS _abgate_line_number,
    CASE WHEN error_type = 'INVALID ENCODING'
         THEN escaped_bytes(CAST(
             b.content[position:position + octet_length(encode(csv_line)) - 1] AS VARCHAR))
         ELSE csv_line END AS _abgate_raw,
    CASE WHEN error_type = 'INVALID ENCODING' THEN 'invalid UTF-8'
         ELSE 'malformed CSV row: ' || lower(error_type)
              || CASE WHEN extra_lines > 0
                      THEN format(' (lines {}-{})', line, line + extra_lines) ELSE '' END
    END AS _abgate_problem
FROM spans
LEFT JOIN read_blob(getvariable('abgate_csv_undecodable')) b ON error_type = 'INVALID ENCODING';

-- The parsed rows get the reader's record numbers (the line number unless a quoted value spans
-- lines): the i-th rejected record comes after (its number - 1 - i) parsed rows, and a parsed row
-- is pushed down by the number of rejected records before it.
CREATE OR REPLACE TEMP VIEW source_rows AS
WITH rejected_before AS (
    SELECT _abgate_line_number - 1 - row_number() OVER w AS parsed_rows, row_number() OVER w AS n
    FROM csv_rejected
    WINDOW w AS (ORDER BY _abgate_line_number)
),
shifts AS (
    SELECT parsed_rows, max(n) AS n FROM rejected_before GROUP BY parsed_rows
)
SELECT
    r.* EXCLUDE (_abgate_ordinal),
    r._abgate_ordinal + 1 + coalesce(s.n, 0) AS _abgate_line_number,
    NULL::VARCHAR AS _abgate_raw,
    NULL::VARCHAR AS _abgate_problem,
    NULL::VARCHAR AS _abgate_no_segment
FROM csv_rows r
ASOF LEFT JOIN shifts s ON r._abgate_ordinal > s.parsed_rows
UNION ALL BY NAME
SELECT getvariable('abgate_files')[1] AS _abgate_source_file, * FROM csv_rejected
UNION ALL BY NAME
SELECT unnest(getvariable('abgate_expected_columns')) WHERE false;
