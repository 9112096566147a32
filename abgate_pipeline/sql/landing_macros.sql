-- Helpers the landing readers share, created once per connection before any reader runs.

-- A struct (or map) of values as text, without its NULL entries: a row's segment attributes.
CREATE OR REPLACE TEMP MACRO non_null_text(value_map) AS map_from_entries(list_filter(
    map_entries(CAST(value_map AS MAP(VARCHAR, VARCHAR))), lambda kv: kv.value IS NOT NULL));

-- A list of {key, value} entries as a map; a repeated key keeps its first value (map keys must
-- be unique, and an attribute list can repeat a key).
CREATE OR REPLACE TEMP MACRO first_entries(entries) AS coalesce(
    map_from_entries(list_filter(
        entries,
        lambda entry, position: entry.key IS NOT NULL
            AND list_position(list_transform(entries, lambda other: other.key), entry.key) = position)),
    MAP {}::MAP(VARCHAR, VARCHAR));

-- The first non-NULL value among `keys` of an attribute map.
CREATE OR REPLACE TEMP MACRO first_attribute(attrs, keys) AS
    list_filter(list_transform(keys, lambda key: attrs[key]), lambda value: value IS NOT NULL)[1];

-- The entries of `attrs` under `prefix` that no contract field consumed, without the prefix:
-- `abgate.query_type` -> `query_type`, the segment of a span.
CREATE OR REPLACE TEMP MACRO prefixed_segments(attrs, prefix) AS first_entries(list_transform(
    list_filter(
        map_entries(attrs),
        lambda attr: starts_with(attr.key, prefix) AND attr.value IS NOT NULL
            AND NOT list_contains(getvariable('abgate_consumed_attributes'), attr.key)),
    lambda attr: {'key': attr.key[length(prefix) + 1:], 'value': attr.value}));

-- An OTLP/JSON AnyValue as text. Arrays of scalars are joined with commas, so
-- gen_ai.response.finish_reasons ["stop"] reads 'stop'.
CREATE OR REPLACE TEMP MACRO otlp_scalar(v) AS
    coalesce(v->>'stringValue', v->>'intValue', v->>'doubleValue', v->>'boolValue');
CREATE OR REPLACE TEMP MACRO otlp_value(v) AS CASE
    WHEN (v->'arrayValue') IS NOT NULL THEN array_to_string(
        list_transform(json_extract(v, '$.arrayValue.values[*]'), lambda item: otlp_scalar(item)), ',')
    ELSE coalesce(otlp_scalar(v), v->>'kvlistValue', v->>'bytesValue')
END;

-- OTLP/JSON attributes ([{key, value: AnyValue}, ...]) as a map; the first of a repeated key wins.
CREATE OR REPLACE TEMP MACRO otlp_attributes(attribute_list) AS first_entries(list_transform(
    coalesce(attribute_list, []::JSON[]),
    lambda otlp_kv: {'key': otlp_kv->>'key', 'value': otlp_value(otlp_kv->'value')}));

-- Trace and span ids as lowercase hex. OTLP/JSON writes hex, but generic protobuf-JSON
-- serializers write base64; anything else is kept as written.
CREATE OR REPLACE TEMP MACRO otlp_id(id, n_bytes) AS CASE
    WHEN length(id) = 2 * n_bytes AND regexp_full_match(id, '[0-9a-fA-F]+') THEN lower(id)
    WHEN octet_length(try(from_base64(id))) = n_bytes THEN lower(hex(from_base64(id)))
    ELSE id
END;

-- OTLP unix nanoseconds (a JSON string or number) as UTC timestamp text; anything else as written,
-- so the validation reports it as a bad timestamp.
CREATE OR REPLACE TEMP MACRO unix_nanos_text(ns) AS
    coalesce(CAST(make_timestamp(TRY_CAST(ns AS BIGINT) // 1000) AS VARCHAR), ns);

-- OTLP span status code (enum name or number) as the contract's lowercase status.
CREATE OR REPLACE TEMP MACRO otlp_status(code) AS CASE upper(code)
    WHEN '0' THEN 'unset' WHEN 'STATUS_CODE_UNSET' THEN 'unset'
    WHEN '1' THEN 'ok' WHEN 'STATUS_CODE_OK' THEN 'ok'
    WHEN '2' THEN 'error' WHEN 'STATUS_CODE_ERROR' THEN 'error'
END;

-- Whether column `c` of a table-shaped source holds contract field `field_name` under the column
-- mapping (names compare ignoring case, as DuckDB's do).
CREATE OR REPLACE TEMP MACRO is_mapped_column(c, field_name) AS
    lower(c) = lower(getvariable('abgate_columns')[field_name]);

-- Whether column `c` is a segment: not a contract field and not reader bookkeeping.
CREATE OR REPLACE TEMP MACRO is_segment_column(c) AS
    NOT list_contains(getvariable('abgate_consumed_columns'), lower(c));

-- Contract field `field_name` of a span: the first of its attribute keys that is set.
CREATE OR REPLACE TEMP MACRO span_field(attrs, field_name) AS
    first_attribute(attrs, getvariable('abgate_attribute_keys')[field_name]);
