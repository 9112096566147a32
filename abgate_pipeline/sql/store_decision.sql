-- Replace the decision of one experiment and as-of day.
DELETE FROM gate_decisions WHERE as_of = $as_of AND experiment_id = $experiment_id;
INSERT INTO gate_decisions VALUES ($as_of, $experiment_id, $decision, $checks_passed, $record, now()::TIMESTAMP);
