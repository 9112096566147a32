-- Sufficient statistics (n, sums, sums of squares, cross-products) per experiment x metric x
-- variant x segment for every non-quantile metric, from the unit table as of $as_of.
-- Per-unit value: a log column is averaged over the unit's requests; an outcome is averaged over
-- the unit's mature correlation keys (proportion: the share of keys with a positive outcome;
-- mean: the in-window sum, a key with no event counting 0 unless `missing: exclude`); a count
-- is the unit's total; a ratio keeps numerator and denominator totals over mature keys.
-- Units seen in more than one variant are left out (the blocking check reports them).
-- `winsorize: p` caps per-unit values at their p-quantile pooled over all variants (so the cap
-- cannot favour an arm); `cuped` adds the unit's pre-period value of the same outcome as the
-- covariate x (sum x, sum x^2, sum y x), and for a ratio the pre-period numerator x and
-- denominator xd with the cross sums the 4x4 covariance of (y, d, x, xd) needs; a unit without
-- pre-period activity has x = xd = 0.
-- The sums are taken per metric x variant x the unit's segment values first (additive, and few
-- such cells), then added up overall and per segment: segmenting the units themselves would
-- repeat every unit-metric row once per segment.
-- Params: $as_of (DATE).
WITH unit_outcomes AS (
    -- One row per unit with outcome events: each outcome a metric reads, by name. Joining the
    -- units to this once (not once per unit x metric, and not once per outcome) keeps the join
    -- to one probe row per unit; per-metric joins spill far beyond memory at 100M requests
    -- (docs/benchmarks.md).
    SELECT experiment_id, unit_id,
           map(list(name), list({'sum': mature_sum, 'any': mature_any, 'present': mature_present}))
               AS outcome
    FROM experiment_unit_values
    WHERE as_of = $as_of AND source = 'outcome'
      AND name IN (SELECT num_name FROM cfg_metrics WHERE num_source = 'outcome'
                   UNION ALL SELECT den_name FROM cfg_metrics WHERE den_source = 'outcome')
    GROUP BY experiment_id, unit_id
),
unit_pre AS (
    -- The same for the pre-period totals (CUPED), keyed 'outcome:<name>' or 'column:<name>'.
    SELECT experiment_id, unit_id, map(list(source || ':' || outcome), list(pre_value)) AS pre
    FROM experiment_unit_pre
    WHERE as_of = $as_of
    GROUP BY experiment_id, unit_id
),
units AS (
    SELECT u.*, o.outcome, p.pre
    FROM experiment_units u
    LEFT JOIN unit_outcomes o USING (experiment_id, unit_id)
    LEFT JOIN unit_pre p USING (experiment_id, unit_id)
    WHERE u.as_of = $as_of AND u.n_variants = 1
),
unit_metric AS (
    SELECT u.experiment_id, u.variant, u.attributes, u.n_mature_keys,
           m.metric, m.kind, m.num_source, m.den_source, m.missing,
           CASE WHEN m.num_source = 'outcome' THEN u.outcome[m.num_name] END AS num_outcome,
           CASE WHEN m.kind = 'ratio' AND m.den_source = 'outcome' THEN u.outcome[m.den_name].sum
           END AS den_outcome_sum,
           CASE WHEN m.cuped AND m.kind <> 'ratio' THEN u.pre['outcome:' || m.num_name] END
               AS pre_value,
           CASE WHEN m.cuped AND m.kind = 'ratio' THEN u.pre[m.num_source || ':' || m.num_name]
           END AS pre_num_value,
           CASE WHEN m.cuped AND m.kind = 'ratio' THEN u.pre[m.den_source || ':' || m.den_name]
           END AS pre_den_value,
           m.cuped AND (m.kind = 'ratio' OR m.num_source = 'outcome') AS has_covariate,
           log_column(m.num_name, u.input_tokens_sum, u.output_tokens_sum, u.cost_usd_sum,
               u.latency_ms_sum, u.fallback_sum, u.refusal_sum, u.schema_valid_sum) AS column_sum,
           log_column(m.num_name, u.input_tokens_count, u.output_tokens_count, u.cost_usd_count,
               u.latency_ms_count, u.fallback_count, u.refusal_count, u.schema_valid_count
           ) AS column_count,
           log_column(m.num_name, u.input_tokens_mature_sum, u.output_tokens_mature_sum,
               u.cost_usd_mature_sum, u.latency_ms_mature_sum, u.fallback_mature_sum,
               u.refusal_mature_sum, u.schema_valid_mature_sum) AS column_mature_sum,
           log_column(m.den_name, u.input_tokens_mature_sum, u.output_tokens_mature_sum,
               u.cost_usd_mature_sum, u.latency_ms_mature_sum, u.fallback_mature_sum,
               u.refusal_mature_sum, u.schema_valid_mature_sum) AS den_column_mature_sum
    FROM units u
    JOIN cfg_metrics m ON m.experiment_id = u.experiment_id AND m.kind <> 'quantile'
),
unit_values AS (
    SELECT experiment_id, variant, attributes, metric, kind,
        CASE
            WHEN kind = 'ratio' THEN
                CASE WHEN n_mature_keys > 0 THEN
                    coalesce(CASE num_source WHEN 'column' THEN column_mature_sum ELSE num_outcome.sum END, 0)
                END
            WHEN num_source = 'column' AND kind = 'count' THEN column_sum
            WHEN num_source = 'column' THEN column_sum / nullif(column_count, 0)
            WHEN n_mature_keys = 0 THEN NULL
            WHEN kind = 'proportion' THEN coalesce(num_outcome.any, 0) / n_mature_keys
            WHEN kind = 'count' THEN coalesce(num_outcome.sum, 0)
            WHEN missing = 'exclude' THEN num_outcome.sum / nullif(num_outcome.present, 0)
            ELSE coalesce(num_outcome.sum, 0) / n_mature_keys
        END AS y,
        CASE
            WHEN kind = 'ratio' AND n_mature_keys > 0 THEN coalesce(
                CASE den_source WHEN 'column' THEN den_column_mature_sum ELSE den_outcome_sum END, 0)
        END AS d,
        CASE
            WHEN has_covariate AND kind = 'ratio' THEN coalesce(pre_num_value, 0)
            WHEN has_covariate THEN coalesce(pre_value, 0)
        END AS x,
        CASE WHEN has_covariate AND kind = 'ratio' THEN coalesce(pre_den_value, 0) END AS xd
    FROM unit_metric
),
caps AS (
    SELECT v.experiment_id, v.metric,
           list_sort(list(v.y))[greatest(1, ceil(m.winsorize * count(v.y)))::BIGINT] AS cap
    FROM unit_values v
    JOIN cfg_metrics m USING (experiment_id, metric)
    WHERE m.winsorize IS NOT NULL AND v.y IS NOT NULL
    GROUP BY v.experiment_id, v.metric, m.winsorize
),
capped AS (
    SELECT v.* REPLACE (CASE WHEN c.cap IS NULL OR v.y IS NULL THEN v.y ELSE least(v.y, c.cap) END AS y),
           c.cap
    FROM unit_values v
    LEFT JOIN caps c USING (experiment_id, metric)
),
cells AS (
    -- exact_sum (schema.sql): sums that do not depend on the order rows are added in; `bad`
    -- counts the rows with a value out of its range, which make the cell's sums NaN
    SELECT experiment_id, metric, kind, variant, attributes,
           count(y) AS n, exact_sum(y) AS sum, exact_sum(y * y) AS sum_sq,
           exact_sum(d) AS den_sum, exact_sum(d * d) AS den_sum_sq,
           exact_sum(y * d) AS cross_sum,
           exact_sum(x) AS pre_sum, exact_sum(x * x) AS pre_sum_sq,
           exact_sum(y * x) AS pre_cross_sum,
           any_value(cap) AS cap,
           exact_sum(xd) AS pre_den_sum, exact_sum(xd * xd) AS pre_den_sum_sq,
           exact_sum(x * xd) AS pre_num_den_sum,
           exact_sum(d * xd) AS den_pre_den_sum, exact_sum(y * xd) AS num_pre_den_sum,
           exact_sum(d * x) AS den_pre_num_sum,
           count(*) FILTER (WHERE inexact(y) OR inexact(d) OR inexact(x) OR inexact(xd)) AS bad
    FROM capped
    WHERE y IS NOT NULL
    GROUP BY experiment_id, metric, kind, variant, attributes
),
segmented AS (
    SELECT *, '__all__' AS segment, '__all__' AS segment_value FROM cells
    UNION ALL
    SELECT c.*, s.segment, coalesce(c.attributes[s.segment], '(missing)')
    FROM cells c JOIN cfg_segments s USING (experiment_id)
)
SELECT $as_of AS as_of, experiment_id, metric, kind, variant, segment, segment_value,
       sum(n) AS n, exact_or_nan(sum, bad) AS sum, exact_or_nan(sum_sq, bad) AS sum_sq,
       exact_or_nan(den_sum, bad) AS den_sum, exact_or_nan(den_sum_sq, bad) AS den_sum_sq,
       exact_or_nan(cross_sum, bad) AS cross_sum,
       NULL::DOUBLE AS q, NULL::DOUBLE AS q_estimate, NULL::DOUBLE AS q_lo, NULL::DOUBLE AS q_hi,
       exact_or_nan(pre_sum, bad) AS pre_sum, exact_or_nan(pre_sum_sq, bad) AS pre_sum_sq,
       exact_or_nan(pre_cross_sum, bad) AS pre_cross_sum,
       any_value(cap) AS cap,
       exact_or_nan(pre_den_sum, bad) AS pre_den_sum,
       exact_or_nan(pre_den_sum_sq, bad) AS pre_den_sum_sq,
       exact_or_nan(pre_num_den_sum, bad) AS pre_num_den_sum,
       exact_or_nan(den_pre_den_sum, bad) AS den_pre_den_sum,
       exact_or_nan(num_pre_den_sum, bad) AS num_pre_den_sum,
       exact_or_nan(den_pre_num_sum, bad) AS den_pre_num_sum
FROM segmented
GROUP BY experiment_id, metric, kind, variant, segment, segment_value
ORDER BY ALL;
