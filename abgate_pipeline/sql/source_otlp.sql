-- OTLP/JSON trace files as `span_rows` for landing_spans.sql: one row per span, with its
-- resource's attributes and the attributes of its `gen_ai.content.*` events folded in (the span's
-- own win, then events, then the resource), and the attributes of its feature-flag evaluation
-- events kept apart. A file is one JSON document (`{"resourceSpans": [...]}`) or one per line
-- (the collector's file exporter); a line that is not such a document is one record with its
-- problem. `line_number` is the record's position in the file: spans in document order, every
-- span counted, an unreadable line in its place.
CREATE OR REPLACE TEMP TABLE span_rows AS
WITH files AS (
    SELECT filename AS source_file, content FROM read_text(getvariable('abgate_files'))
),
documents AS (
    SELECT source_file, 1 AS doc_line, content AS doc FROM files WHERE json_valid(content)
    UNION ALL
    SELECT source_file, unnest(generate_series(1, len(lines))), unnest(lines)
    FROM (
        SELECT source_file, string_split(content, chr(10)) AS lines
        FROM files
        WHERE NOT json_valid(content)
    )
),
checked AS (
    SELECT *,
        CASE
            WHEN NOT json_valid(doc) THEN 'invalid JSON'
            WHEN json_type(doc, '$.resourceSpans') IS DISTINCT FROM 'ARRAY'
                THEN 'not an OTLP trace document (no resourceSpans list)'
        END AS problem
    FROM documents
    WHERE trim(doc) <> ''
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
records AS (
    SELECT
        source_file, doc_line, r, s, p,
        CAST(span AS VARCHAR) AS raw,
        NULL AS problem,
        otlp_id(span->>'traceId', 16) AS trace_id,
        otlp_id(span->>'spanId', 8) AS span_id,
        unix_nanos_text(span->>'startTimeUnixNano') AS start_time,
        CAST((TRY_CAST(span->>'endTimeUnixNano' AS BIGINT)
              - TRY_CAST(span->>'startTimeUnixNano' AS BIGINT)) / 1e6 AS VARCHAR) AS latency_ms,
        otlp_status(span->'status'->>'code') AS status,
        otlp_attributes(list_concat(
            json_extract(span, '$.attributes[*]'),
            flatten(list_transform(
                content_events, lambda event: json_extract(event, '$.attributes[*]'))),
            resource_attributes)) AS attributes,
        list_transform(
            flag_events, lambda event: otlp_attributes(json_extract(event, '$.attributes[*]'))
        ) AS flag_evaluations
    FROM events
    UNION ALL BY NAME
    SELECT source_file, doc_line, 0 AS r, 0 AS s, 0 AS p, doc AS raw, problem
    FROM checked
    WHERE problem IS NOT NULL
)
SELECT
    * EXCLUDE (doc_line, r, s, p),
    row_number() OVER (PARTITION BY source_file ORDER BY doc_line, r, s, p) AS line_number,
    attributes['openinference.span.kind'] AS span_kind
FROM records;
