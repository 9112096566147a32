-- Step 2 of 2: the order statistics at the chosen ranks. Needs: quantile_cells, quantile_obs
-- (step 1) and quantile_ranks(experiment_id, metric, variant, segment, segment_value, n, q,
-- est_rank, lo_rank, hi_rank). Params: $as_of (DATE).
SELECT $as_of AS as_of, r.experiment_id, r.metric, 'quantile' AS kind, r.variant, r.segment,
       r.segment_value, r.n,
       NULL::DOUBLE AS sum, NULL::DOUBLE AS sum_sq, NULL::DOUBLE AS den_sum,
       NULL::DOUBLE AS den_sum_sq, NULL::DOUBLE AS cross_sum, r.q,
       max(o.v) FILTER (WHERE o.rk = r.est_rank) AS q_estimate,
       max(o.v) FILTER (WHERE o.rk = r.lo_rank) AS q_lo,
       max(o.v) FILTER (WHERE o.rk = r.hi_rank) AS q_hi,
       NULL::DOUBLE AS pre_sum, NULL::DOUBLE AS pre_sum_sq, NULL::DOUBLE AS pre_cross_sum,
       NULL::DOUBLE AS cap
FROM quantile_ranks r
JOIN quantile_cells c USING (experiment_id, metric, variant, segment, segment_value)
JOIN quantile_obs o ON o.cell = c.cell AND o.rk IN (r.est_rank, r.lo_rank, r.hi_rank)
GROUP BY ALL
ORDER BY ALL;
