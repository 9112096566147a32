-- A day whose files are one batch (one format) is validated straight from its reader: the
-- records are read once, by the validation, instead of being copied into landed_batches first.
CREATE OR REPLACE TEMP VIEW landed_rows AS SELECT * FROM landed;
