-- Arize Phoenix span exports (`px.Client().get_spans_dataframe()` written to Parquet, or
-- `TraceDataset.save()`) as `span_rows` for landing_spans.sql: one row per span. Phoenix names
-- span fields `context.span_id`, `context.trace_id`, `start_time`, `end_time`, `status_code`,
-- `span_kind`, and each OpenInference attribute `attributes.<key>` (`attributes.llm.model_name`,
-- `attributes.metadata`, ...); attributes outside the conventions arrive nested
-- (`attributes.abgate` = {"experiment_id": ...}), so every attribute is flattened back to its
-- dotted key; the keys of lists are kept (`structured_attributes`) for the validation of ids and
-- labels. `line_number` is the row in the file.
CREATE OR REPLACE TEMP TABLE span_rows AS
WITH exported AS (
    SELECT
        _abgate_source_file AS source_file,
        file_row_number + 1 AS line_number,
        to_json(struct_pack(*COLUMNS(lambda c: c NOT IN ('_abgate_source_file', 'file_row_number'))))
            AS span
    FROM read_parquet(
        getvariable('abgate_files'),
        union_by_name = true,
        filename = '_abgate_source_file',
        file_row_number = true
    )
),
-- Leaves of the `attributes.*` columns as dotted key -> text; a list stays one value (JSON text).
leaves AS (
    SELECT
        e.source_file,
        e.line_number,
        replace(t.fullkey[length('$."attributes.') + 1:], '"', '') AS key,
        json_extract_string(t.value, '$') AS value,
        t.type = 'ARRAY' AS is_list
    FROM exported e, json_tree(e.span) t
    WHERE starts_with(t.fullkey, '$."attributes.')
      AND t.type NOT IN ('OBJECT', 'NULL')
      AND NOT contains(t.fullkey, '[')
),
attributes AS (
    SELECT source_file, line_number,
           first_entries(list({'key': key, 'value': value})) AS attributes,
           coalesce(list(key) FILTER (WHERE is_list), []::VARCHAR[]) AS structured_attributes
    FROM leaves
    GROUP BY ALL
)
SELECT
    e.source_file,
    e.line_number,
    CAST(e.span AS VARCHAR) AS raw,
    NULL::VARCHAR AS problem,
    otlp_id(e.span->>'$."context.trace_id"', 16) AS trace_id,
    otlp_id(e.span->>'$."context.span_id"', 8) AS span_id,
    e.span->>'start_time' AS start_time,
    CAST((epoch_us(TRY_CAST(e.span->>'end_time' AS TIMESTAMPTZ))
          - epoch_us(TRY_CAST(e.span->>'start_time' AS TIMESTAMPTZ))) / 1e3 AS VARCHAR) AS latency_ms,
    lower(e.span->>'status_code') AS status,
    coalesce(a.attributes, MAP {}::MAP(VARCHAR, VARCHAR)) AS attributes,
    coalesce(a.structured_attributes, []::VARCHAR[]) AS structured_attributes,
    []::MAP(VARCHAR, VARCHAR)[] AS flag_evaluations,
    coalesce(a.attributes['openinference.span.kind'], e.span->>'span_kind') AS span_kind,
    false AS blank
FROM exported e
LEFT JOIN attributes a USING (source_file, line_number);
