-- Append one flag change to the audit log.
INSERT INTO decision_log VALUES (
    now()::TIMESTAMP, $experiment_id, $as_of, $action, $flag_key, $from_pct, $to_pct,
    $flag_version, $approved_by, $run_id, $weights
);
