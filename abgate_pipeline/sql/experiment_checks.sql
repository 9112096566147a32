-- Integrity facts per experiment as of $as_of, for the blocking checks and the SRM test:
-- units per logged variant, units seen in more than one variant, units not yet mature.
SELECT u.experiment_id, u.variant, u.n_variants > 1 AS multi_variant,
       count(*) AS units,
       count(*) FILTER (WHERE u.n_mature_keys = 0) AS immature_units
FROM experiment_units u
WHERE u.as_of = $as_of
GROUP BY ALL
ORDER BY ALL;
