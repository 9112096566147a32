-- Helpers the landing readers and the validation (stage_*.sql) share, created once per connection
-- before any reader runs.

-- The lines of a text landing file (text_files.sql): a file read as UTF-8 `text` is split as
-- text; one that is not UTF-8 is split as its bytes printed with every byte outside printable
-- ASCII (and `"`, `\`) as \xHH, and each of its lines is decoded on its own, so a bad byte costs
-- its line only.
CREATE OR REPLACE TEMP MACRO file_lines(text, content) AS CASE
    WHEN text IS NOT NULL THEN string_split(text, chr(10))
    ELSE string_split(CAST(content AS VARCHAR), '\x0A')
END;

-- A line of file_lines as text, NULL when the file was split as escaped bytes and this line is
-- not UTF-8.
CREATE OR REPLACE TEMP MACRO decoded_line(part, escaped) AS
    CASE WHEN escaped THEN try(decode(CAST(part AS BLOB))) ELSE part END;

-- A decoded line without its terminator's CR (CRLF files) and, on the file's first line, without
-- a byte-order mark: neither is part of the record.
CREATE OR REPLACE TEMP MACRO line_text(decoded, line_number) AS CASE
    WHEN line_number = 1 AND starts_with(decoded, chr(65279))
        THEN rtrim(ltrim(decoded, chr(65279)), chr(13))
    WHEN ends_with(decoded, chr(13)) THEN rtrim(decoded, chr(13))
    ELSE decoded
END;

-- An undecodable line as text that keeps its bytes: the \xHH escapes of file_lines, with `"` as
-- itself and `\` as \\ (so a literal "\xFF" in the line stays apart from the byte 0xFF).
CREATE OR REPLACE TEMP MACRO escaped_bytes(part) AS
    replace(replace(part, '\x22', '"'), '\x5C', '\\');

-- Whether a line holds only JSON whitespace: not a record (files often end with a blank line, and
-- CRLF files leave a lone CR when split at LF).
CREATE OR REPLACE TEMP MACRO is_blank(line) AS trim(line, E' \t\r') = '';

-- A struct (or map) of values as text, without its NULL entries: a row's segment attributes.
-- Casting a struct to a map is cheap and building a map from entries is not, so the entries are
-- only filtered when a value is NULL.
CREATE OR REPLACE TEMP MACRO non_null_text(value_map) AS CASE
    WHEN list_bool_and(list_transform(
            map_values(CAST(value_map AS MAP(VARCHAR, VARCHAR))), lambda value: value IS NOT NULL))
        THEN CAST(value_map AS MAP(VARCHAR, VARCHAR))
    ELSE map_from_entries(list_filter(
        map_entries(CAST(value_map AS MAP(VARCHAR, VARCHAR))), lambda kv: kv.value IS NOT NULL))
END;

-- A list of {key, value} entries as a map; a repeated key keeps its first value (map keys must
-- be unique, and an attribute list can repeat a key).
CREATE OR REPLACE TEMP MACRO first_entries(entries) AS coalesce(
    map_from_entries(list_filter(
        entries,
        lambda entry, position: entry.key IS NOT NULL
            AND list_position(list_transform(entries, lambda other: other.key), entry.key) = position)),
    MAP {}::MAP(VARCHAR, VARCHAR));

-- The first non-NULL value among `keys` of an attribute map, and its key.
CREATE OR REPLACE TEMP MACRO first_attribute(attrs, keys) AS
    list_filter(list_transform(keys, lambda key: attrs[key]), lambda value: value IS NOT NULL)[1];
CREATE OR REPLACE TEMP MACRO first_attribute_key(attrs, keys) AS
    list_filter(keys, lambda key: attrs[key] IS NOT NULL)[1];

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

-- The keys of OTLP/JSON attributes whose value is a list or a key-value list, not a scalar.
CREATE OR REPLACE TEMP MACRO otlp_structured_keys(attribute_list) AS list_transform(
    list_filter(
        coalesce(attribute_list, []::JSON[]),
        lambda otlp_kv: (otlp_kv->'value'->'arrayValue') IS NOT NULL
            OR (otlp_kv->'value'->'kvlistValue') IS NOT NULL),
    lambda otlp_kv: otlp_kv->>'key');

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

-- Whether column `c` goes into the struct of a table row's segments: a segment column or, when
-- the batch has none (`abgate_has_segments`), the NULL placeholder column the source readers add
-- (a struct cannot be empty).
CREATE OR REPLACE TEMP MACRO is_segment_struct_column(c) AS is_segment_column(c)
    OR (c = '_abgate_no_segment' AND NOT getvariable('abgate_has_segments'));

-- Contract field `field_name` of a span: the first of its attribute keys that is set.
CREATE OR REPLACE TEMP MACRO span_field(attrs, field_name) AS
    first_attribute(attrs, getvariable('abgate_attribute_keys')[field_name]);

-- A landed field as a value of the contract's type, NULL where it is not one. Fields arrive as
-- text, except where a table reader keeps a column's type (landing_table_*.sql): a column of
-- exactly the contract's type is taken as it is, since its text would parse back to the same
-- value; any other type is read through its text, as from every other format. typeof() is known
-- when the query is bound, so each CASE folds to one branch. Counts are read as numbers too, so
-- that number_problem can tell 2.0 (a count) from 1.5 (not one); a BIGINT column's values are
-- the numbers their text parses to.
CREATE OR REPLACE TEMP MACRO double_value(field) AS CASE
    WHEN typeof(field) = 'DOUBLE' THEN TRY_CAST(field AS DOUBLE)
    WHEN typeof(field) = 'BIGINT' THEN TRY_CAST(field AS DOUBLE)
    ELSE TRY_CAST(CAST(field AS VARCHAR) AS DOUBLE)
END;
CREATE OR REPLACE TEMP MACRO boolean_value(field) AS CASE
    WHEN typeof(field) = 'BOOLEAN' THEN TRY_CAST(field AS BOOLEAN)
    ELSE TRY_CAST(CAST(field AS VARCHAR) AS BOOLEAN)
END;
-- A timestamp as UTC time; text without an offset is UTC (the session's time zone).
CREATE OR REPLACE TEMP MACRO timestamp_value(field) AS CASE
    WHEN typeof(field) = 'TIMESTAMP WITH TIME ZONE' THEN TRY_CAST(field AS TIMESTAMPTZ)
    ELSE TRY_CAST(CAST(field AS VARCHAR) AS TIMESTAMPTZ)
END AT TIME ZONE 'UTC';

-- The largest magnitude accepted for a count, cost, duration or outcome value (10^12 tokens,
-- dollars or milliseconds, ~31 years). The statistics keep sums of squares of per-unit values:
-- one absurd value (1e308) overflows them to infinity, and anything beyond this is a logging bug.
CREATE OR REPLACE TEMP MACRO max_abs_value() AS 1e12;

-- Why a numeric field is not accepted (NULL when it is, or is absent): `field` as landed, `value`
-- its double_value. `bad type` unless it is a finite number (NaN and infinities, as text or as
-- JSON's NaN/Infinity, are not), and a whole one when `whole` (2.0 is a count, 1.5 is not);
-- `out of range` when it is negative for a `non_negative` field or beyond max_abs_value().
CREATE OR REPLACE TEMP MACRO number_problem(field, value, name, whole, non_negative) AS CASE
    WHEN field IS NULL THEN NULL
    WHEN value IS NULL OR NOT isfinite(value) OR (whole AND value <> trunc(value))
        THEN 'bad type: ' || name
    WHEN abs(value) > max_abs_value() OR (non_negative AND value < 0) THEN 'out of range: ' || name
END;

-- The keys of a JSON object whose values are objects or arrays (an id written as {"id": 1}).
-- Few records have any, and such a value always follows a `:`, so only text with a `:` before a
-- `{` or `[` is parsed again.
CREATE OR REPLACE TEMP MACRO structured_keys(json_object) AS CASE
    WHEN regexp_matches(json_object, ':[ \t\r\n]*[\[{]') THEN list_transform(
        list_filter(
            map_entries(json_transform(json_object, '"MAP(VARCHAR, JSON)"')),
            lambda entry: json_type(entry.value) IN ('OBJECT', 'ARRAY')),
        lambda entry: entry.key)
    ELSE []::VARCHAR[]
END;

-- Free text with its PII and secrets replaced by tokens. abgate_redact (redaction.py) is Python,
-- called once per vector even when no text in it can hold PII, so the test it starts with, the
-- union of its rules' hints (`abgate_redaction_hint`, set with the UDF), runs here first: texts
-- that fail it come back unchanged from abgate_redact as well. Without the variable every text
-- goes to abgate_redact.
CREATE OR REPLACE TEMP MACRO redact(text) AS CASE
    WHEN text IS NULL OR NOT regexp_matches(text, getvariable('abgate_redaction_hint')) THEN text
    ELSE abgate_redact(text)
END;

-- An attribute map with its values redacted. Building a MAP costs more than testing its values,
-- so the map is only rebuilt when a value may hold PII (or the test cannot tell).
CREATE OR REPLACE TEMP MACRO redact_values(attrs) AS CASE
    WHEN list_bool_or(list_transform(
            map_values(attrs),
            lambda value: coalesce(regexp_matches(value, getvariable('abgate_redaction_hint')), true)))
        THEN map(map_keys(attrs), list_transform(map_values(attrs), lambda value: redact(value)))
    ELSE attrs
END;
