-- The stored decision records of one as-of day.
SELECT experiment_id, decision, CAST(record AS VARCHAR) AS record
FROM gate_decisions WHERE as_of = $as_of ORDER BY experiment_id;
