-- A day whose files are one batch of a format that is cheap to read again (Parquet, CSV) is
-- validated straight from its reader, instead of being copied into landed_batches first.
CREATE OR REPLACE TEMP VIEW landed_rows AS SELECT * FROM landed;
