-- Trace spans (`span_rows`, from source_otlp.sql or source_phoenix.sql) as landed inference-log
-- records. Each contract field is the first attribute among its keys (formats.py: `abgate.<field>`,
-- then `<field>` in the OpenInference `metadata` JSON, then the OTel GenAI / OpenInference
-- conventions; the column mapping can replace the list). The span gives the ids (request_id
-- falls back to the span id), the timestamp (start), the latency (end - start) and the status.
-- The variant is the one served: a feature-flag evaluation event for the experiment's flag (or
-- without a flag key) first, then the attributes. `abgate.*` and `metadata.*` attributes that
-- no field reads are the span's segments, without their prefix. Fields whose attribute is a list
-- or an object (`structured_fields`) are left to the validation to judge.
--
-- A span is a record of the contract only when it carries an experiment id and is not an
-- OpenInference span of another kind than LLM: `using_metadata` copies the experiment's metadata
-- onto the CHAIN/AGENT/TOOL spans around the call, which would count one request several times.
-- Other spans are skipped (span_counts.sql counts them). A span whose `metadata` is not a JSON
-- object is kept, with that problem, when it could be a request: a logging bug stays visible.
-- Blank lines of an OTLP file are passed on only to be counted (landed_rows leaves them out).
CREATE OR REPLACE TEMP VIEW span_requests AS
WITH spans AS (
    SELECT *,
        CASE
            WHEN attributes['metadata'] IS NULL THEN MAP {}::MAP(VARCHAR, VARCHAR)
            WHEN json_valid(attributes['metadata']) AND json_type(attributes['metadata']) = 'OBJECT'
                THEN map_from_entries(list_transform(
                    map_entries(json_transform(attributes['metadata'], '"MAP(VARCHAR, VARCHAR)"')),
                    lambda entry: {'key': 'metadata.' || entry.key, 'value': entry.value}))
        END AS metadata_attributes,
        CASE WHEN json_valid(attributes['metadata']) AND json_type(attributes['metadata']) = 'OBJECT'
            THEN list_transform(structured_keys(attributes['metadata']), lambda key: 'metadata.' || key)
        END AS metadata_structured
    FROM span_rows
),
attributed AS (
    SELECT *,
        coalesce(problem, CASE WHEN attributes IS NOT NULL AND metadata_attributes IS NULL
            THEN 'span attribute metadata is not a JSON object' END) AS span_problem,
        map_concat(coalesce(metadata_attributes, MAP {}::MAP(VARCHAR, VARCHAR)),
                   coalesce(attributes, MAP {}::MAP(VARCHAR, VARCHAR))) AS attrs,
        list_concat(structured_attributes, metadata_structured) AS structured_keys
    FROM spans
),
fields AS (
    SELECT *,
        span_field(attrs, 'experiment_id') AS experiment_id,
        list_filter(
            flag_evaluations,
            lambda evaluation: coalesce(
                evaluation['feature_flag.key'] = getvariable('abgate_flag_keys')[experiment_id], true)
        )[1] AS served_flag
    FROM attributed
)
SELECT
    source_file,
    line_number,
    raw,
    span_problem AS problem,
    -- the fields whose attribute (the first of its keys that is set) is a list or object
    CASE WHEN len(structured_keys) > 0 THEN list_transform(
        list_filter(
            getvariable('abgate_attribute_fields'),
            lambda f: list_contains(structured_keys, first_attribute_key(attrs, f.keys))),
        lambda f: f.field) END AS structured_fields,
    coalesce(span_field(attrs, 'request_id'), span_id) AS request_id,
    start_time AS "timestamp",
    experiment_id,
    coalesce(span_field(served_flag, 'variant'), span_field(attrs, 'variant')) AS variant,
    span_field(attrs, 'unit_id') AS unit_id,
    span_field(attrs, 'correlation_key') AS correlation_key,
    trace_id,
    span_field(attrs, 'model') AS model,
    span_field(attrs, 'prompt_version') AS prompt_version,
    span_field(attrs, 'rag_index_version') AS rag_index_version,
    span_field(attrs, 'input_tokens') AS input_tokens,
    span_field(attrs, 'output_tokens') AS output_tokens,
    span_field(attrs, 'cost_usd') AS cost_usd,
    latency_ms,
    span_field(attrs, 'finish_reason') AS finish_reason,
    coalesce(span_field(attrs, 'status'), status) AS status,
    span_field(attrs, 'fallback') AS fallback,
    span_field(attrs, 'refusal') AS refusal,
    span_field(attrs, 'schema_valid') AS schema_valid,
    span_field(attrs, 'prompt') AS prompt,
    span_field(attrs, 'response') AS response,
    map_concat(prefixed_segments(attrs, 'metadata.'), prefixed_segments(attrs, 'abgate.'))
        AS attributes,
    blank,
    NOT blank AND (span_problem IS NOT NULL OR experiment_id IS NOT NULL)
        AND coalesce(upper(span_kind), 'LLM') = 'LLM' AS is_request
FROM fields;

CREATE OR REPLACE TEMP VIEW landed AS
SELECT * EXCLUDE (is_request) FROM span_requests WHERE is_request OR blank;
