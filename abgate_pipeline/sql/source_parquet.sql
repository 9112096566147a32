-- Parquet landing files as `source_rows` for landing_table_*.sql: every column as stored (files
-- with different columns are merged by name), where each row came from, and a NULL column for
-- every mapped name the files lack, so a missing column is a missing field, not a failed run.
CREATE OR REPLACE TEMP VIEW source_rows AS
SELECT
    * EXCLUDE (file_row_number),
    file_row_number + 1 AS _abgate_line_number,
    NULL::VARCHAR AS _abgate_raw,
    NULL::VARCHAR AS _abgate_problem,
    NULL::VARCHAR AS _abgate_no_segment  -- the segment struct of a file without segments
FROM read_parquet(
    getvariable('abgate_files'),
    union_by_name = true,
    filename = '_abgate_source_file',
    file_row_number = true
)
UNION ALL BY NAME
SELECT unnest(getvariable('abgate_expected_columns')) WHERE false;
