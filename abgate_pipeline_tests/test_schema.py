"""The published JSON Schema of the experiments YAML: current, accepts what the loader accepts,
and rejects a misspelled key where the loader does."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest
import yaml
from jsonschema import Draft202012Validator

from abgate_pipeline.config import DEMO_EXPERIMENTS, TOP_LEVEL_KEYS, ConfigError, load_experiments
from abgate_pipeline.schema import SCHEMA_FILE, experiments_schema, schema_text


def _document(path=DEMO_EXPERIMENTS) -> dict:
    """The YAML as an editor's validator sees it: dates as their text."""
    return json.loads(json.dumps(yaml.safe_load(path.read_text()), default=str))


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(SCHEMA_FILE.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def test_the_published_copy_is_current():
    assert SCHEMA_FILE.read_text() == schema_text(), "run: abgate schema > " + str(SCHEMA_FILE)


def test_abgate_schema_prints_it():
    done = subprocess.run(
        [sys.executable, "-m", "abgate_pipeline.cli", "schema"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout) == experiments_schema()


def test_it_covers_every_top_level_key():
    assert set(experiments_schema()["properties"]) == set(TOP_LEVEL_KEYS)


def test_the_demo_yaml_is_valid(validator):
    assert list(validator.iter_errors(_document())) == []


@pytest.mark.parametrize(
    ("where", "typo"),
    [
        ((), "experiment"),  # top level
        (("experiments", 0), "alpah"),
        (("experiments", 0, "metrics", 1), "marign"),
        (("experiments", 0, "rollout"), "step"),
    ],
)
def test_a_misspelled_key_is_rejected_by_the_schema_and_the_loader(
    validator, tmp_path, where, typo
):
    document = copy.deepcopy(_document())
    target = document
    for part in where:
        target = target[part]
    target[typo] = 1
    errors = list(validator.iter_errors(document))
    assert errors and any(typo in e.message for e in errors)
    path = tmp_path / "experiments.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError, match=typo):
        load_experiments(path)


def test_a_column_mapping_typo_is_rejected(validator):
    document = _document()
    document["column_mapping"] = {"inference_logs": {"unit": "user_id"}}
    assert list(validator.iter_errors(document))
    document["column_mapping"] = {
        "inference_logs": {"unit_id": "user_id"},
        "otlp": {"unit_id": ["app.user"]},
    }
    assert list(validator.iter_errors(document)) == []


def test_x_keys_hold_shared_anchors(validator, tmp_path):
    document = _document()
    document["x-shared"] = {"anything": True}
    assert list(validator.iter_errors(document)) == []
    path = tmp_path / "experiments.yaml"
    path.write_text(yaml.safe_dump(document))
    assert len(load_experiments(path)) == 2
