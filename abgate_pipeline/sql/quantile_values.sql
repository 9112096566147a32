-- Step 2 of 2: the order statistics at the chosen ranks. Needs quantile_cells,
-- quantile_cell_bases, quantile_obs (step 1) and quantile_ranks(experiment_id, metric, variant,
-- segment, segment_value, n, q, est_rank, lo_rank, hi_rank, threshold). Only a cell's values at
-- or above its threshold are sorted (for a p95 that is the top few percent); the values below
-- it are counted and the ranks continue from that count. A threshold that is too high (as many
-- values below it as the lowest wanted rank), or none, means the whole cell is sorted: exact
-- either way.
-- Params: $as_of (DATE).
WITH wanted AS (
    SELECT r.*, c.cell, least(r.est_rank, r.lo_rank) AS first_rank
    FROM quantile_ranks r
    JOIN quantile_cells c USING (experiment_id, metric, variant, segment, segment_value)
),
below AS (
    SELECT w.cell, count(*) FILTER (WHERE o.v < w.threshold) AS n_below
    FROM quantile_obs o
    JOIN quantile_cell_bases m USING (base)
    JOIN wanted w USING (cell)
    GROUP BY w.cell
),
cutoffs AS (
    SELECT w.*,
           CASE WHEN b.n_below < w.first_rank THEN w.threshold END AS cutoff,
           CASE WHEN b.n_below < w.first_rank THEN b.n_below ELSE 0 END AS rank_offset
    FROM wanted w JOIN below b USING (cell)
),
ranked AS (
    SELECT m.cell, o.v,
           k.rank_offset + row_number() OVER (PARTITION BY m.cell ORDER BY o.v) AS rk
    FROM quantile_obs o
    JOIN quantile_cell_bases m USING (base)
    JOIN cutoffs k USING (cell)
    WHERE o.v IS NOT NULL AND (k.cutoff IS NULL OR o.v >= k.cutoff)
)
SELECT $as_of AS as_of, k.experiment_id, k.metric, 'quantile' AS kind, k.variant, k.segment,
       k.segment_value, k.n,
       NULL::DOUBLE AS sum, NULL::DOUBLE AS sum_sq, NULL::DOUBLE AS den_sum,
       NULL::DOUBLE AS den_sum_sq, NULL::DOUBLE AS cross_sum, k.q,
       max(o.v) FILTER (WHERE o.rk = k.est_rank) AS q_estimate,
       max(o.v) FILTER (WHERE o.rk = k.lo_rank) AS q_lo,
       max(o.v) FILTER (WHERE o.rk = k.hi_rank) AS q_hi,
       NULL::DOUBLE AS pre_sum, NULL::DOUBLE AS pre_sum_sq, NULL::DOUBLE AS pre_cross_sum,
       NULL::DOUBLE AS cap
FROM cutoffs k
JOIN ranked o ON o.cell = k.cell AND o.rk IN (k.est_rank, k.lo_rank, k.hi_rank)
GROUP BY ALL
ORDER BY ALL;
