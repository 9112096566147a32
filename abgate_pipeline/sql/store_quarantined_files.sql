-- The landing files of one day that could not be read at all (a zero-byte or truncated Parquet
-- file, a CSV file whose header is not UTF-8): nothing of them is stored, and the day is
-- incomplete until they are delivered again. Replaced with the day, like every per-partition
-- table, so re-running the day with good files clears them. The reader's error is redacted (a
-- reader may quote the file's content). Returns the rows stored.
-- Params: $dataset, $partition_date, $files (list of {source_file, error}).
DELETE FROM quarantined_files WHERE dataset = $dataset AND partition_date = $partition_date;

INSERT INTO quarantined_files
SELECT $dataset, $partition_date, f.source_file, redact(f.error), CAST(now() AS TIMESTAMP)
FROM (SELECT unnest(CAST($files AS STRUCT(source_file VARCHAR, error VARCHAR)[])) AS f)
RETURNING source_file, error;
