-- One landing day of outcome events as the readers land it (see landed_inference_logs.sql).
CREATE OR REPLACE TEMP TABLE landed_batches (
    source_file VARCHAR NOT NULL,
    line_number BIGINT NOT NULL,
    raw VARCHAR,
    problem VARCHAR,
    structured_fields VARCHAR[],
    event_id VARCHAR,
    correlation_key VARCHAR,
    outcome VARCHAR,
    value VARCHAR,
    "timestamp" VARCHAR,
    source VARCHAR,
    unit_id VARCHAR,
    attributes MAP(VARCHAR, VARCHAR),
    blank BOOLEAN NOT NULL DEFAULT false
);

CREATE OR REPLACE TEMP VIEW landed_rows AS
SELECT * EXCLUDE (blank) FROM landed_batches WHERE NOT blank;
