-- One CSV landing file (comma-separated, header row) as `source_rows` for landing_table_*.sql.
-- Every value is read as text, so the shared validation, not the CSV reader, decides what is a
-- bad value. A record the CSV reader cannot parse (too many or too few fields, broken quoting)
-- becomes a row with its problem and the line as written, for the quarantine, instead of
-- failing the run. One file at a time: DuckDB keeps rejected records only without union_by_name.
DROP TABLE IF EXISTS csv_rejects;

DROP TABLE IF EXISTS csv_reject_scans;

CREATE OR REPLACE TEMP TABLE csv_rows AS
SELECT *, row_number() OVER () AS _abgate_ordinal  -- OVER () numbers rows in file order
FROM read_csv(
    getvariable('abgate_files'),
    header = true,
    all_varchar = true,
    filename = '_abgate_source_file',
    store_rejects = true,
    rejects_table = 'csv_rejects',
    rejects_scan = 'csv_reject_scans'
);

-- DuckDB numbers records from 1 (the header) and reports rejected ones by that number; the
-- parsed rows get the same numbering (the line number unless a quoted value spans lines).
CREATE OR REPLACE TEMP VIEW source_rows AS
WITH rejected AS (
    SELECT line AS _abgate_line_number,
           min(csv_line) AS _abgate_raw,
           'malformed CSV row: ' || lower(min(error_type)) AS _abgate_problem
    FROM csv_rejects
    GROUP BY line
),
-- The i-th rejected record comes after (its number - 1 - i) parsed rows; a parsed row is pushed
-- down by the number of rejected records before it.
rejected_before AS (
    SELECT _abgate_line_number - 1 - row_number() OVER w AS parsed_rows, row_number() OVER w AS n
    FROM rejected
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
SELECT getvariable('abgate_files')[1] AS _abgate_source_file, * FROM rejected
UNION ALL BY NAME
SELECT unnest(getvariable('abgate_expected_columns')) WHERE false;
