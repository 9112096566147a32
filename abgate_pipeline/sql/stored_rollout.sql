-- The challengers' share each experiment's stored decision for $as_of was made at, when one is
-- stored: a re-run of a past day keeps the rollout state that day's decision was made in.
SELECT experiment_id,
       CAST(json_extract(record, '$.rollout.current_pct') AS INTEGER) AS current_pct
FROM gate_decisions
WHERE as_of = $as_of AND json_extract(record, '$.rollout.current_pct') IS NOT NULL;
