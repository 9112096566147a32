-- Blank lines of the day's text files (JSONL, OTLP JSON Lines) that the readers landed beside
-- the records: not records, so neither stored nor quarantined, only counted.
SELECT count(*) AS blank_lines FROM landed_batches WHERE blank;
