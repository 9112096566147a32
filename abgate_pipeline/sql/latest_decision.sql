-- The newest as-of decision of one experiment, and whether it is the one asked about.
SELECT as_of, decision, checks_passed, CAST(record AS VARCHAR) AS record
FROM gate_decisions
WHERE experiment_id = $experiment_id
ORDER BY as_of DESC
LIMIT 1;
