-- The days an analysis reads (from $first_day to $as_of) that were stored without some of their
-- landing files, because those could not be read: per dataset and day, each file and its error
-- (quarantined_files). The decision record and the report warn with them: such a day is
-- incomplete until the file is delivered again and the day re-run.
SELECT dataset, CAST(partition_date AS VARCHAR) AS day, source_file AS file, error
FROM quarantined_files
WHERE partition_date BETWEEN $first_day AND $as_of
ORDER BY partition_date, dataset, source_file;
