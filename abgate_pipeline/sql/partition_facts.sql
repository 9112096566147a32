-- What one landing day left in the warehouse, to reconcile with the lines read: stored rows,
-- quarantined rows, and stored rows with an empty key field (must be zero).
SELECT
    (SELECT count(*) FROM inference_logs WHERE partition_date = $partition_date) AS inference_logs_rows,
    (SELECT count(*) FROM quarantine
     WHERE dataset = 'inference_logs' AND partition_date = $partition_date) AS inference_logs_quarantined,
    (SELECT count(*) FROM inference_logs
     WHERE partition_date = $partition_date
       AND (request_id = '' OR experiment_id = '' OR variant = '' OR unit_id = ''
            OR correlation_key = '')) AS inference_logs_empty_keys,
    (SELECT count(*) FROM outcome_events WHERE partition_date = $partition_date) AS outcomes_rows,
    (SELECT count(*) FROM quarantine
     WHERE dataset = 'outcomes' AND partition_date = $partition_date) AS outcomes_quarantined,
    (SELECT count(*) FROM outcome_events
     WHERE partition_date = $partition_date
       AND (event_id = '' OR correlation_key = '' OR outcome = '' OR NOT isfinite(value))) AS outcomes_empty_keys;
