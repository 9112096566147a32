-- The outcome names of the events that have arrived by the end of $as_of: a metric reading a
-- name that is not among them has no outcome data (the decision warns).
SELECT DISTINCT outcome FROM outcome_events WHERE ts < $as_of + INTERVAL 1 DAY ORDER BY outcome;
