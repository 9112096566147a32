-- Spans of the batch just landed that are not experiment requests (see landing_spans.sql); they
-- are not records of the contract, so they are neither stored nor quarantined, only counted
-- (blank lines are no spans: blank_lines.sql counts them).
SELECT count(*) FILTER (WHERE NOT is_request AND NOT blank) AS spans_skipped FROM span_requests;
