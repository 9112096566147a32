-- What the gate reads for one as-of day: every metric frame up to it (the sequential looks).
SELECT * FROM metric_frames WHERE as_of <= $as_of ORDER BY as_of, experiment_id, metric, variant;
