-- OTLP/JSON trace files as `span_rows` for landing_spans.sql: one row per span, with its
-- resource's attributes and the attributes of its `gen_ai.content.*` events folded in (the span's
-- own win, then events, then the resource), the attributes of its feature-flag evaluation events
-- kept apart, and the keys of attributes that are lists or key-value lists
-- (`structured_attributes`, for the validation of ids and labels). A file is one JSON document
-- (`{"resourceSpans": [...]}`) or one per line (the collector's file exporter); a line that is not
-- such a document is one record with its problem, a line that is not UTF-8 too (text_files.sql),
-- and a blank line is kept only to be counted (`blank`). `line_number` is the record's position
-- in the file: spans in document order, every span counted, an unreadable line in its place.
CREATE OR REPLACE TEMP TABLE span_rows AS
WITH files AS (
    SELECT source_file, content, text,
           CASE WHEN starts_with(text, chr(65279)) THEN ltrim(text, chr(65279)) ELSE text END AS document
    FROM text_files
),
lines AS (
    SELECT source_file,
           text IS NULL AS escaped,
           unnest(parts) AS part,
           unnest(generate_series(1, len(parts))) AS doc_line,
           len(parts) AS n_parts
    FROM (
        SELECT source_file, text, file_lines(text, content) AS parts
        FROM files
        WHERE NOT coalesce(json_valid(document), false)
    )
),
documents AS (
    SELECT source_file, 1 AS doc_line, document AS text, NULL AS part FROM files WHERE json_valid(document)
    UNION ALL
    SELECT source_file, doc_line, line_text(decoded_line(part, escaped), doc_line), part
    FROM lines
    WHERE doc_line < n_parts OR part <> ''  -- the text after a file's final newline is no line
),
checked AS (
    SELECT source_file, doc_line,
        coalesce(text, escaped_bytes(regexp_replace(part, '\\x0D$', ''))) AS doc,
        CASE
            WHEN text IS NULL THEN 'invalid UTF-8'
            WHEN NOT json_valid(text) THEN 'invalid JSON'
            WHEN json_type(text, '$.resourceSpans') IS DISTINCT FROM 'ARRAY'
                THEN 'not an OTLP trace document (no resourceSpans list)'
        END AS problem,
        CASE WHEN text IS NULL OR json_valid(text) THEN false ELSE is_blank(text) END AS blank
    FROM documents
),
resources AS (
    SELECT source_file, doc_line, unnest(l) AS resource_spans, generate_subscripts(l, 1) AS r
    FROM (
        SELECT source_file, doc_line, json_extract(doc, '$.resourceSpans[*]') AS l
        FROM checked
        WHERE problem IS NULL
    )
),
scopes AS (
    SELECT source_file, doc_line, r, resource_attributes,
           unnest(l) AS scope_spans, generate_subscripts(l, 1) AS s
    FROM (
        SELECT *,
            json_extract(resource_spans, '$.resource.attributes[*]') AS resource_attributes,
            json_extract(resource_spans, '$.scopeSpans[*]') AS l
        FROM resources
    )
),
spans AS (
    SELECT source_file, doc_line, r, s, resource_attributes,
           unnest(l) AS span, generate_subscripts(l, 1) AS p
    FROM (SELECT *, json_extract(scope_spans, '$.spans[*]') AS l FROM scopes)
),
events AS (
    SELECT *,
        json_extract(span, '$.events[*]') AS event_list,
        list_filter(event_list, lambda event: starts_with(event->>'name', 'gen_ai.content.'))
            AS content_events,
        list_filter(
            event_list, lambda event: event->>'name' IN ('feature_flag.evaluation', 'feature_flag')
        ) AS flag_events
    FROM spans
),
attribute_lists AS (
    SELECT *,
        list_concat(
            json_extract(span, '$.attributes[*]'),
            flatten(list_transform(
                content_events, lambda event: json_extract(event, '$.attributes[*]'))),
            resource_attributes) AS attribute_list
    FROM events
),
records AS (
    SELECT
        source_file, doc_line, r, s, p,
        CAST(span AS VARCHAR) AS raw,
        NULL AS problem,
        false AS blank,
        otlp_id(span->>'traceId', 16) AS trace_id,
        otlp_id(span->>'spanId', 8) AS span_id,
        unix_nanos_text(span->>'startTimeUnixNano') AS start_time,
        CAST((TRY_CAST(span->>'endTimeUnixNano' AS BIGINT)
              - TRY_CAST(span->>'startTimeUnixNano' AS BIGINT)) / 1e6 AS VARCHAR) AS latency_ms,
        otlp_status(span->'status'->>'code') AS status,
        otlp_attributes(attribute_list) AS attributes,
        otlp_structured_keys(attribute_list) AS structured_attributes,
        list_transform(
            flag_events, lambda event: otlp_attributes(json_extract(event, '$.attributes[*]'))
        ) AS flag_evaluations
    FROM attribute_lists
    UNION ALL BY NAME
    SELECT source_file, doc_line, 0 AS r, 0 AS s, 0 AS p, doc AS raw, problem, blank
    FROM checked
    WHERE problem IS NOT NULL
)
SELECT
    * EXCLUDE (doc_line, r, s, p),
    row_number() OVER (PARTITION BY source_file, blank ORDER BY doc_line, r, s, p) AS line_number,
    attributes['openinference.span.kind'] AS span_kind
FROM records;
