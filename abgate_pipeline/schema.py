"""The JSON Schema of the experiments YAML, for editors to complete and validate it.

Built from the pydantic models of `config` (the experiments) and the contract fields of
`formats` (the column mapping), so it cannot drift from what the loader accepts; a copy is
published with the package (`experiments.schema.json`, tested to be current) and printed by
`abgate schema`. Cross-field rules (one primary metric, a guardrail's margin, ...) are checked
by the loader, not by the schema.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from abgate_pipeline.config import PACKAGE_DIR, ExperimentSpec
from abgate_pipeline.formats import CONTRACT_FIELDS, INFERENCE_LOGS, SPAN_OWN_FIELDS

SCHEMA_FILE = PACKAGE_DIR / "experiments.schema.json"
SCHEMA_ID = "https://github.com/abgate/abgate/experiments.schema.json"


def experiments_schema() -> dict[str, Any]:
    """The whole file: `experiments`, the optional `column_mapping`, and free `x-*` keys."""
    experiment = ExperimentSpec.model_json_schema(ref_template="#/$defs/{model}")
    definitions = experiment.pop("$defs", {})
    definitions["ExperimentSpec"] = experiment
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "abgate experiments",
        "description": "The experiments abgate gates (README: Experiment YAML).",
        "type": "object",
        "properties": {
            "experiments": {
                "type": "array",
                "minItems": 1,
                "items": {"$ref": "#/$defs/ExperimentSpec"},
            },
            "column_mapping": _column_mapping_schema(),
        },
        "required": ["experiments"],
        "patternProperties": {"^x-": {}},
        "additionalProperties": False,
        "$defs": definitions,
    }


def _column_mapping_schema() -> dict[str, Any]:
    """README "Column mapping": per dataset, contract field -> your column or JSON key; per span
    format, field -> the attribute key(s) tried in order."""

    def section(fields: tuple[str, ...], value: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {f: value for f in fields},
            "additionalProperties": False,
        }

    name = {"type": "string", "minLength": 1}
    names = {"anyOf": [name, {"type": "array", "items": name, "minItems": 1}]}
    span_fields = tuple(f for f in CONTRACT_FIELDS[INFERENCE_LOGS] if f not in SPAN_OWN_FIELDS)
    return {
        "type": "object",
        "properties": {
            **{dataset: section(fields, name) for dataset, fields in CONTRACT_FIELDS.items()},
            "otlp": section(span_fields, names),
            "phoenix": section(span_fields, names),
        },
        "additionalProperties": False,
    }


def schema_text() -> str:
    return json.dumps(experiments_schema(), indent=2, sort_keys=True) + "\n"


def write_schema(path: Path = SCHEMA_FILE) -> None:
    path.write_text(schema_text())
