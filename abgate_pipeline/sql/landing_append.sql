-- Append what the current reader landed (the `landed` view) to the day's batches, when the day
-- has several (files of several formats, or several CSV files, which are read one at a time).
INSERT INTO landed_batches BY NAME SELECT * FROM landed;
