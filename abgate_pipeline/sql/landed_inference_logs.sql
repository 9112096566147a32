-- One landing day of inference logs as the readers land it, whatever the file format: one row per
-- record, every contract field as the text it was written as (stage_inference_logs.sql types and
-- checks it), the other fields as segment attributes. A day with several batches (formats, CSV
-- files), or with one that is costly to read again (JSONL, traces), collects them in
-- landed_batches (landing_append.sql); a lone Parquet or CSV batch skips the copy and
-- `landed_rows` is its reader (landing_direct.sql), Parquet's typed columns kept
-- (landing_table_inference_logs.sql).
CREATE OR REPLACE TEMP TABLE landed_batches (
    source_file VARCHAR NOT NULL,  -- the landing file
    line_number BIGINT NOT NULL,   -- the record's line (JSONL, CSV) / row (Parquet) / span position
    raw VARCHAR,                   -- the record as written, when the format has a text form
    problem VARCHAR,               -- why the reader could not read it (invalid JSON, bad CSV row)
    structured_fields VARCHAR[],   -- contract fields written as an object or array, not a value
    request_id VARCHAR,
    "timestamp" VARCHAR,
    experiment_id VARCHAR,
    variant VARCHAR,
    unit_id VARCHAR,
    correlation_key VARCHAR,
    trace_id VARCHAR,
    model VARCHAR,
    prompt_version VARCHAR,
    rag_index_version VARCHAR,
    input_tokens VARCHAR,
    output_tokens VARCHAR,
    cost_usd VARCHAR,
    latency_ms VARCHAR,
    finish_reason VARCHAR,
    status VARCHAR,
    fallback VARCHAR,
    refusal VARCHAR,
    schema_valid VARCHAR,
    prompt VARCHAR,
    response VARCHAR,
    attributes MAP(VARCHAR, VARCHAR),
    blank BOOLEAN NOT NULL DEFAULT false  -- a blank line of a text file: counted, not a record
);

CREATE OR REPLACE TEMP VIEW landed_rows AS
SELECT * EXCLUDE (blank) FROM landed_batches WHERE NOT blank;
