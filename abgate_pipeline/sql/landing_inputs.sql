-- What the landing readers read for one batch of files (one format, one dataset, one day), as
-- session variables: the readers are views, which cannot take parameters, and COLUMNS(...) has
-- to know the column names when the view is bound. Set from formats.ColumnMapping.reader_inputs.
SET VARIABLE abgate_files = $files;

-- contract field -> the column (Parquet, CSV) or key (JSONL) it is read from
SET VARIABLE abgate_columns = $columns;

-- the same as a list of {field, column}, for readers that go through every field
SET VARIABLE abgate_column_fields = $column_fields;

-- one NULL column per mapped name, appended BY NAME so a column the files lack reads as NULL
SET VARIABLE abgate_expected_columns = $expected_columns;

-- lowercased column names that are contract fields or reader bookkeeping; the rest are segments
SET VARIABLE abgate_consumed_columns = $consumed_columns;

-- contract field -> span attribute keys tried in order (OTLP, Phoenix)
SET VARIABLE abgate_attribute_keys = $attribute_keys;

-- the same as a list of {field, keys}
SET VARIABLE abgate_attribute_fields = $attribute_fields;

-- span attribute keys the contract reads; `abgate.*` / `metadata.*` keys not listed are segments
SET VARIABLE abgate_consumed_attributes = $consumed_attributes;

-- experiment_id -> the flag key whose evaluation event carries that experiment's variant
SET VARIABLE abgate_flag_keys = map_from_entries($flag_keys);
