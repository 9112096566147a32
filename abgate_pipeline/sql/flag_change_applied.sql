-- Whether a decision was already applied to the flag (re-running a promotion is a no-op).
SELECT count(*) AS n FROM decision_log
WHERE experiment_id = $experiment_id AND as_of = $as_of AND action = $action;
