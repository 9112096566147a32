-- Each experiment's phase as of $as_of: when it began and the split the flag served since
-- (NULL weights: the configured allocation, nothing was changed yet).
SELECT experiment_id, phase_start, CAST(weights AS VARCHAR) AS weights
FROM experiment_phases($as_of)
ORDER BY experiment_id;
