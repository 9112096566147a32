"""The experiments YAML and the ABGATE_* settings: typed objects, validated once, errors that name
the key that is wrong."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path

import pytest
import yaml

from abgate_pipeline.config import (
    DEMO_EXPERIMENTS,
    ConfigError,
    RolloutSpec,
    Settings,
    load_experiments,
    project_root,
)

PRIMARY = {
    "name": "conversion",
    "role": "primary",
    "kind": "proportion",
    "outcome": "converted",
    "better": "higher",
    "mde": 0.05,
}
GUARDRAIL = {
    "name": "p95_latency_ms",
    "role": "guardrail",
    "kind": "quantile",
    "column": "latency_ms",
    "q": 0.95,
    "better": "lower",
    "margin": 0.10,
}
RATIO = {
    "name": "cost_per_resolution",
    "role": "guardrail",
    "kind": "ratio",
    "numerator": "cost_usd",
    "denominator": "ticket_resolved",
    "better": "lower",
    "margin": 0.15,
}
VALID = {
    "id": "exp-a",
    "flag_key": "exp-a-flag",
    "champion": "champion",
    "challengers": ["challenger"],
    "start": "2026-11-01",
    "metrics": [PRIMARY, GUARDRAIL, RATIO],
    "allocation": {"champion": 90, "challenger": 10},
    "rollout": {"steps": [10, 50, 100], "approval_above": 50},
}


def write(tmp_path: Path, *experiments: dict, name: str = "experiments.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"experiments": list(experiments)}, sort_keys=False))
    return path


def variant(**changes) -> dict:
    """VALID with top-level keys replaced (a value of None deletes the key)."""
    raw = copy.deepcopy(VALID)
    for key, value in changes.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    return raw


def with_metric(index: int, **changes) -> dict:
    """VALID with metric `index` changed (a value of None deletes the key)."""
    raw = copy.deepcopy(VALID)
    metric = raw["metrics"][index]
    for key, value in changes.items():
        if value is None:
            metric.pop(key, None)
        else:
            metric[key] = value
    return raw


def load_one(tmp_path: Path, raw: dict):
    (spec,) = load_experiments(write(tmp_path, raw))
    return spec


# ---------------------------------------------------------------------------------------------
# The bundled demo
# ---------------------------------------------------------------------------------------------


class TestDemoExperiments:
    def test_two_experiments_with_their_variants_and_primary(self):
        support, sales = load_experiments(DEMO_EXPERIMENTS)
        assert support.id == "support-bot-model-upgrade"
        assert sales.id == "sales-assistant-cheaper-model"
        assert support.variants == ("champion", "challenger")
        assert support.primary.name == "resolution_rate"
        assert sales.primary.name == "lead_qualified_rate"
        assert support.flag_key == "support-bot-llm" and sales.flag_key == "sales-assistant-llm"

    def test_demo_values_are_typed(self):
        support, sales = load_experiments(DEMO_EXPERIMENTS)
        assert support.start == date(2026, 11, 1)
        assert support.sequential is True and support.alpha == 0.05 and support.power == 0.8
        assert support.expected_shares() == {"champion": 0.9, "challenger": 0.1}
        assert sales.expected_shares() == {"champion": 0.5, "challenger": 0.5}
        assert support.rollout == RolloutSpec(steps=(10, 50, 100), approval_above=50)
        assert support.segments == ("query_type",) and sales.segments == ("channel",)
        assert sales.attribution_window_hours == 48.0

    def test_demo_metric_specs(self):
        support, _ = load_experiments(DEMO_EXPERIMENTS)
        by_name = {m.name: m for m in support.metrics}
        assert by_name["resolution_rate"].mde == 0.05
        assert by_name["csat"].missing == "exclude"
        latency = by_name["p95_latency_ms"]
        assert (latency.kind, latency.q, latency.column, latency.better) == (
            "quantile", 0.95, "latency_ms", "lower",
        )  # fmt: skip
        cost = by_name["cost_per_resolution"]
        assert (cost.numerator, cost.denominator, cost.margin) == (
            "cost_usd", "ticket_resolved", 0.15,
        )  # fmt: skip
        refusal = by_name["refusal_rate"]
        assert (refusal.margin, refusal.margin_type) == (0.005, "absolute")
        assert [m.name for m in support.metrics if m.role == "guardrail"] == [
            "p95_latency_ms", "cost_per_resolution", "refusal_rate", "schema_valid_rate",
        ]  # fmt: skip


class TestDefaults:
    def test_optional_keys_take_their_defaults(self, tmp_path):
        minimal = variant(allocation=None, rollout=None)
        spec = load_one(tmp_path, minimal)
        assert spec.unit == "unit_id"
        assert spec.attribution_window_hours == 72.0
        assert (spec.alpha, spec.power, spec.sequential) == (0.05, 0.8, True)
        assert spec.correction == "holm" and spec.min_units_per_arm == 100
        assert spec.expected_shares() == {"champion": 0.5, "challenger": 0.5}
        assert spec.rollout == RolloutSpec(steps=(10, 50, 100), approval_above=50)
        assert spec.metrics[0].margin_type == "relative" and spec.metrics[0].missing == "zero"

    def test_several_challengers_split_equally_without_allocation(self, tmp_path):
        spec = load_one(tmp_path, variant(challengers=["b", "c"], allocation=None))
        assert spec.variants == ("champion", "b", "c")
        assert spec.expected_shares() == pytest.approx({"champion": 1 / 3, "b": 1 / 3, "c": 1 / 3})

    def test_yaml_date_and_string_date_are_the_same(self, tmp_path):
        as_string = load_one(tmp_path, variant(start="2026-11-01"))
        (tmp_path / "b").mkdir()
        as_date = load_one(tmp_path / "b", variant(start=date(2026, 11, 1)))
        assert as_string.start == as_date.start == date(2026, 11, 1)


# ---------------------------------------------------------------------------------------------
# Errors that name the key
# ---------------------------------------------------------------------------------------------


def assert_config_error(tmp_path, raw, *fragments):
    with pytest.raises(ConfigError) as info:
        load_experiments(write(tmp_path, raw))
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    return message


class TestExperimentErrors:
    @pytest.mark.parametrize("key", ["id", "champion", "challengers", "flag_key", "start"])
    def test_missing_required_key(self, tmp_path, key):
        message = assert_config_error(
            tmp_path, variant(**{key: None}), f"missing required key `{key}`"
        )
        assert "experiments[0]" in message

    def test_error_names_the_experiment(self, tmp_path):
        message = assert_config_error(tmp_path, variant(flag_key=None), "`flag_key`")
        assert "(exp-a)" in message

    def test_empty_string_counts_as_missing(self, tmp_path):
        assert_config_error(tmp_path, variant(champion=""), "missing required key `champion`")

    def test_champion_among_challengers(self, tmp_path):
        assert_config_error(tmp_path, variant(challengers=["champion"]), "`challengers`")

    def test_no_primary(self, tmp_path):
        raw = variant(metrics=[GUARDRAIL, RATIO])
        assert_config_error(tmp_path, raw, "exactly one metric must have `role: primary`")

    def test_two_primaries(self, tmp_path):
        raw = variant(metrics=[PRIMARY, {**PRIMARY, "name": "other"}])
        assert_config_error(tmp_path, raw, "exactly one metric must have `role: primary`")

    def test_duplicate_metric_names(self, tmp_path):
        raw = variant(metrics=[PRIMARY, GUARDRAIL, {**RATIO, "name": "p95_latency_ms"}])
        assert_config_error(tmp_path, raw, "metric names must be unique", "p95_latency_ms")

    def test_duplicate_experiment_ids(self, tmp_path):
        with pytest.raises(ConfigError, match="experiment ids must be unique"):
            load_experiments(write(tmp_path, VALID, VALID))

    def test_allocation_naming_an_unknown_variant(self, tmp_path):
        raw = variant(allocation={"champion": 90, "challenger-v2": 10})
        assert_config_error(tmp_path, raw, "`allocation`")

    def test_allocation_missing_a_variant(self, tmp_path):
        assert_config_error(tmp_path, variant(allocation={"champion": 100}), "`allocation`")

    def test_negative_allocation(self, tmp_path):
        raw = variant(allocation={"champion": 110, "challenger": -10})
        assert_config_error(tmp_path, raw, "`allocation`")

    def test_all_zero_allocation(self, tmp_path):
        raw = variant(allocation={"champion": 0, "challenger": 0})
        assert_config_error(tmp_path, raw, "`allocation`")

    @pytest.mark.parametrize("steps", [[50, 10, 100], [10, 10, 100], [10, 50, 150], [0, 50]])
    def test_rollout_steps_must_increase_within_0_100(self, tmp_path, steps):
        raw = variant(rollout={"steps": steps, "approval_above": 50})
        assert_config_error(tmp_path, raw, "`rollout.steps`")

    @pytest.mark.parametrize("alpha", [0, 0.5, 1.2, -0.05])
    def test_bad_alpha(self, tmp_path, alpha):
        assert_config_error(tmp_path, variant(alpha=alpha), "alpha")

    @pytest.mark.parametrize("power", [0, 1, 1.5])
    def test_bad_power(self, tmp_path, power):
        assert_config_error(tmp_path, variant(power=power), "power")

    @pytest.mark.parametrize("start", ["2026-13-01", "yesterday", "01/11/2026"])
    def test_bad_start_date(self, tmp_path, start):
        assert_config_error(tmp_path, variant(start=start), "`start` must be YYYY-MM-DD", start)

    def test_bad_correction(self, tmp_path):
        assert_config_error(tmp_path, variant(correction="bonferroni"), "`correction`")

    def test_non_positive_attribution_window(self, tmp_path):
        assert_config_error(
            tmp_path, variant(attribution_window_hours=0), "`attribution_window_hours`"
        )


class TestMetricErrors:
    def test_guardrail_without_margin(self, tmp_path):
        message = assert_config_error(
            tmp_path, with_metric(1, margin=None), "a guardrail needs a `margin`"
        )
        assert "metrics[1] (p95_latency_ms)" in message

    def test_unknown_metric_key(self, tmp_path):
        assert_config_error(tmp_path, with_metric(0, colour="blue"), "unknown keys ['colour']")

    def test_missing_metric_name(self, tmp_path):
        assert_config_error(tmp_path, with_metric(0, name=None), "missing required key `name`")

    @pytest.mark.parametrize(
        ("key", "value"),
        [
            ("kind", "median"),
            ("role", "vanity"),
            ("better", "more"),
            ("missing", "drop"),
            ("mde_type", "percent"),
            ("margin_type", "percent"),
        ],
    )
    def test_bad_enumerated_value(self, tmp_path, key, value):
        assert_config_error(tmp_path, with_metric(1, **{key: value}), f"`{key}`")

    def test_negative_margin(self, tmp_path):
        assert_config_error(tmp_path, with_metric(1, margin=-0.1), "`margin` must be >= 0")

    def test_non_positive_mde(self, tmp_path):
        assert_config_error(tmp_path, with_metric(0, mde=0), "`mde` must be > 0")

    def test_quantile_without_q(self, tmp_path):
        assert_config_error(tmp_path, with_metric(1, q=None), "a quantile needs 0 < q < 1")

    @pytest.mark.parametrize("q", [0, 1, 95])
    def test_quantile_q_out_of_range(self, tmp_path, q):
        assert_config_error(tmp_path, with_metric(1, q=q), "a quantile needs 0 < q < 1")

    def test_quantile_without_column(self, tmp_path):
        raw = with_metric(1, column=None, outcome="latency")
        assert_config_error(tmp_path, raw, "a quantile metric reads a log `column`")

    def test_ratio_without_numerator(self, tmp_path):
        raw = with_metric(2, numerator=None)
        assert_config_error(tmp_path, raw, "a ratio needs numerator/denominator")

    def test_ratio_without_denominator(self, tmp_path):
        raw = with_metric(2, denominator=None)
        assert_config_error(tmp_path, raw, "a ratio needs numerator/denominator")

    def test_neither_outcome_nor_column(self, tmp_path):
        raw = with_metric(0, outcome=None)
        assert_config_error(tmp_path, raw, "give exactly one of `outcome` or `column`")

    def test_both_outcome_and_column(self, tmp_path):
        raw = with_metric(0, column="refusal")
        assert_config_error(tmp_path, raw, "give exactly one of `outcome` or `column`")

    def test_column_not_in_the_log_contract(self, tmp_path):
        raw = with_metric(1, column="latency_seconds")
        assert_config_error(tmp_path, raw, "`column` must be one of")

    def test_metric_not_a_mapping(self, tmp_path):
        raw = variant(metrics=[PRIMARY, "p95_latency_ms"])
        assert_config_error(tmp_path, raw, "metrics[1]", "expected a mapping")


class TestFileErrors:
    def test_missing_file(self, tmp_path):
        missing = tmp_path / "nope.yaml"
        with pytest.raises(ConfigError, match="experiments file not found") as info:
            load_experiments(missing)
        assert str(missing) in str(info.value) and "ABGATE_EXPERIMENTS" in str(info.value)

    def test_not_yaml(self, tmp_path):
        path = tmp_path / "broken.yaml"
        path.write_text("experiments:\n  - id: [unclosed\n")
        with pytest.raises(ConfigError, match="not valid YAML"):
            load_experiments(path)

    @pytest.mark.parametrize(
        "text", ["just a string\n", "- a\n- list\n", "experiments: {id: x}\n", "other: []\n", ""]
    )
    def test_no_experiments_list(self, tmp_path, text):
        path = tmp_path / "shape.yaml"
        path.write_text(text)
        with pytest.raises(ConfigError, match="`experiments:` list"):
            load_experiments(path)

    def test_empty_experiments_list(self, tmp_path):
        with pytest.raises(ConfigError, match="no experiments configured"):
            load_experiments(write(tmp_path))

    def test_config_error_is_a_value_error(self):
        assert issubclass(ConfigError, ValueError)


class TestTypedValues:
    """Values of the wrong type are rejected (or read correctly) with a ConfigError naming the key."""

    def test_scalar_challengers(self, tmp_path):
        raw = variant(challengers="challenger", allocation=None)
        try:
            spec = load_one(tmp_path, raw)
        except ConfigError as err:
            assert "`challengers`" in str(err)
        else:
            assert spec.challengers == ("challenger",)

    def test_scalar_segments(self, tmp_path):
        try:
            spec = load_one(tmp_path, variant(segments="channel"))
        except ConfigError as err:
            assert "`segments`" in str(err)
        else:
            assert spec.segments == ("channel",)

    def test_start_not_a_date(self, tmp_path):
        assert_config_error(tmp_path, variant(start=20261101), "`start`")

    def test_sequential_given_as_a_string(self, tmp_path):
        try:
            spec = load_one(tmp_path, variant(sequential="false"))
        except ConfigError as err:
            assert "`sequential`" in str(err)
        else:
            assert spec.sequential is False

    @pytest.mark.parametrize(
        ("raw", "key"),
        [
            (variant(alpha="high"), "alpha"),
            (variant(min_units_per_arm="lots"), "min_units_per_arm"),
            (variant(rollout={"steps": [10, "fifty"]}), "rollout"),
            (variant(allocation={"champion": "ninety", "challenger": 10}), "allocation"),
            (with_metric(0, mde="5%"), "mde"),
            (with_metric(1, margin="10%"), "margin"),
        ],
        ids=["alpha", "min_units_per_arm", "rollout_steps", "allocation", "mde", "margin"],
    )
    def test_non_numeric_value_names_the_key(self, tmp_path, raw, key):
        assert_config_error(tmp_path, raw, key)


# ---------------------------------------------------------------------------------------------
# Rollout and config hash
# ---------------------------------------------------------------------------------------------


class TestRollout:
    @pytest.mark.parametrize(
        ("current", "expected"), [(0, 10), (10, 50), (25, 50), (50, 100), (100, None)]
    )
    def test_next_step(self, current, expected):
        assert RolloutSpec(steps=(10, 50, 100)).next_step(current) == expected

    @pytest.mark.parametrize(
        ("target", "expected"), [(10, False), (50, False), (51, True), (100, True)]
    )
    def test_requires_approval_strictly_above(self, target, expected):
        assert RolloutSpec(approval_above=50).requires_approval(target) is expected

    def test_custom_rollout_is_loaded(self, tmp_path):
        spec = load_one(tmp_path, variant(rollout={"steps": [5, 25, 100], "approval_above": 25}))
        assert spec.rollout.steps == (5, 25, 100)
        assert spec.rollout.next_step(5) == 25 and not spec.rollout.requires_approval(25)
        assert spec.rollout.requires_approval(spec.rollout.next_step(25))


class TestConfigHash:
    def test_stable_across_loads(self, tmp_path):
        path = write(tmp_path, VALID)
        (first,) = load_experiments(path)
        (second,) = load_experiments(path)
        assert first.config_hash() == second.config_hash()
        assert first.config_hash().startswith("sha256:")

    def test_key_order_in_the_yaml_does_not_matter(self, tmp_path):
        reordered = dict(reversed(list(copy.deepcopy(VALID).items())))
        reordered["metrics"] = [dict(reversed(list(m.items()))) for m in reordered["metrics"]]
        a = load_one(tmp_path, VALID)
        (tmp_path / "b").mkdir()
        b = load_one(tmp_path / "b", reordered)
        assert a.config_hash() == b.config_hash()

    def test_changes_when_a_margin_changes(self, tmp_path):
        before = load_one(tmp_path, VALID)
        (tmp_path / "b").mkdir()
        after = load_one(tmp_path / "b", with_metric(1, margin=0.12))
        assert before.config_hash() != after.config_hash()

    def test_changes_when_the_allocation_changes(self, tmp_path):
        before = load_one(tmp_path, VALID)
        (tmp_path / "b").mkdir()
        after = load_one(tmp_path / "b", variant(allocation={"champion": 50, "challenger": 50}))
        assert before.config_hash() != after.config_hash()

    def test_demo_hashes_differ_per_experiment(self):
        support, sales = load_experiments(DEMO_EXPERIMENTS)
        assert support.config_hash() != sales.config_hash()


# ---------------------------------------------------------------------------------------------
# Settings from ABGATE_* variables
# ---------------------------------------------------------------------------------------------

VARIABLES = {
    "ABGATE_LANDING_DIR": "landing_dir",
    "ABGATE_EXPERIMENTS": "experiments_file",
    "ABGATE_WAREHOUSE": "warehouse",
    "ABGATE_REPORTS_DIR": "reports_dir",
    "ABGATE_FLAGS_FILE": "flags_file",
}


class TestSettings:
    def test_defaults_are_the_demo_under_the_project(self):
        root = project_root()
        settings = Settings.from_env({})
        assert settings.landing_dir == root / "data" / "landing"
        assert settings.experiments_file == DEMO_EXPERIMENTS
        assert settings.warehouse == root / "data" / "warehouse.duckdb"
        assert settings.reports_dir == root / "reports"
        assert settings.flags_file == root / "data" / "flags" / "flags.flagd.json"

    def test_project_root_is_the_checkout(self):
        assert (project_root() / "pyproject.toml").exists()

    def test_every_variable_overrides_its_path(self, tmp_path):
        env = {var: str(tmp_path / field) for var, field in VARIABLES.items()}
        settings = Settings.from_env(env)
        for var, field in VARIABLES.items():
            assert getattr(settings, field) == tmp_path / field, var

    def test_one_override_leaves_the_others_at_their_defaults(self, tmp_path):
        defaults = Settings.from_env({})
        settings = Settings.from_env({"ABGATE_WAREHOUSE": str(tmp_path / "w.duckdb")})
        assert settings.warehouse == tmp_path / "w.duckdb"
        for field in set(VARIABLES.values()) - {"warehouse"}:
            assert getattr(settings, field) == getattr(defaults, field), field

    def test_relative_paths_resolve_against_the_working_directory(self, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        settings = Settings.from_env({"ABGATE_REPORTS_DIR": "out/reports"})
        assert settings.reports_dir == tmp_path.resolve() / "out" / "reports"
        assert settings.reports_dir.is_absolute()

    def test_home_is_expanded(self, tmp_path, monkeypatch):
        monkeypatch.setenv("HOME", str(tmp_path))
        settings = Settings.from_env({"ABGATE_LANDING_DIR": "~/landing"})
        assert settings.landing_dir == tmp_path.resolve() / "landing"

    def test_blank_value_means_default(self):
        settings = Settings.from_env({"ABGATE_WAREHOUSE": "   "})
        assert settings.warehouse == Settings.from_env({}).warehouse

    def test_reads_the_process_environment_by_default(self, tmp_path, monkeypatch):
        monkeypatch.setenv("ABGATE_FLAGS_FILE", str(tmp_path / "flags.json"))
        assert Settings.from_env().flags_file == tmp_path / "flags.json"

    def test_settings_experiments_file_loads(self, tmp_path):
        path = write(tmp_path, VALID)
        settings = Settings.from_env({"ABGATE_EXPERIMENTS": str(path)})
        assert [e.id for e in load_experiments(settings.experiments_file)] == ["exp-a"]


class TestExperimentIds:
    """An id names the experiment's report folder: anything that could leave the reports folder,
    or is not a portable file name, is refused when the YAML is read, not at report time."""

    @pytest.mark.parametrize(
        "bad",
        [
            "../../x",
            "team/exp",
            "/etc/passwd",
            "..",
            ".hidden",
            "-dash",
            "exp ab",
            "ëxp",
            "x" * 101,
        ],
    )
    def test_unsafe_ids_are_refused_with_the_rule(self, tmp_path, bad):
        with pytest.raises(ConfigError, match="not a valid experiment id") as info:
            load_experiments(write(tmp_path, variant(id=bad)))
        assert repr(bad) in str(info.value) and "letters, digits" in str(info.value)

    def test_a_non_string_id_is_refused(self, tmp_path):
        assert_config_error(tmp_path, variant(id=12), "not a valid experiment id")

    @pytest.mark.parametrize("good", ["exp-a", "Exp_2.v3", "a", "x" * 100])
    def test_safe_ids_load(self, tmp_path, good):
        (spec,) = load_experiments(write(tmp_path, variant(id=good)))
        assert spec.id == good


class TestYamlAliasBudget:
    def _bomb(self, levels: int) -> str:
        lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
        for i in range(1, levels):
            lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
        lines.append(f"experiments: [*a{levels - 1}]")
        return "\n".join(lines) + "\n"

    def test_an_alias_bomb_is_refused_with_a_message(self, tmp_path):
        path = tmp_path / "bomb.yaml"
        path.write_text(self._bomb(9))  # 9^9 nodes once expanded
        with pytest.raises(ConfigError, match="aliases expand to more than 100,000 nodes"):
            load_experiments(path)

    def test_a_self_referencing_alias_is_refused(self, tmp_path):
        path = tmp_path / "cycle.yaml"
        path.write_text("experiments: &loop [*loop]\n")
        with pytest.raises(ConfigError, match="aliases expand"):
            load_experiments(path)

    def test_ordinary_aliases_still_work(self, tmp_path):
        def flow(value):
            return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip()

        listed = flow([variant(metrics=["PLACEHOLDER"])]).replace("PLACEHOLDER", "*p, *p")
        text = f"x-primary: &p {flow(PRIMARY)}\nexperiments: {listed}\n"
        path = tmp_path / "aliases.yaml"
        path.write_text(text)
        with pytest.raises(ConfigError, match="exactly one metric must have `role: primary`"):
            load_experiments(path)  # the alias was expanded: two primaries

    def test_the_column_mapping_reader_uses_the_same_budget(self, tmp_path):
        from abgate_pipeline.formats import load_column_mapping

        path = tmp_path / "bomb.yaml"
        path.write_text(self._bomb(9))
        with pytest.raises(ConfigError, match="aliases expand"):
            load_column_mapping(path)


class TestModels:
    def test_a_top_level_typo_is_refused(self, tmp_path):
        path = tmp_path / "experiments.yaml"
        path.write_text(yaml.safe_dump({"experiments": [VALID], "column_maping": {}}))
        with pytest.raises(ConfigError, match=r"unknown top-level keys \['column_maping'\]"):
            load_experiments(path)

    def test_every_problem_is_reported_at_once_with_its_key(self, tmp_path):
        raw = variant(alpah=0.05, power="high", correction="bonferroni")
        raw["metrics"] = [{**PRIMARY, "colour": "blue"}, GUARDRAIL, RATIO]
        message = assert_config_error(
            tmp_path,
            raw,
            "experiments[0] (exp-a): unknown keys ['alpah'] (typo?)",
            "metrics[0] (conversion): unknown keys ['colour'] (typo?)",
            "`power` must be a number, got 'high'",
            "`correction` must be one of holm, bh, none, got 'bonferroni'",
        )
        assert len(message.splitlines()) == 4

    def test_documentation_keys_are_kept_and_not_hashed(self, tmp_path):
        plain = load_one(tmp_path, VALID)
        documented = load_one(
            tmp_path, variant(description="Bigger model", owner="team:support", tags=["llm"])
        )
        assert (documented.description, documented.owner, documented.tags) == (
            "Bigger model", "team:support", ("llm",),
        )  # fmt: skip
        assert documented.config_hash() == plain.config_hash()
        assert load_one(tmp_path, variant(alpha=0.01)).config_hash() != plain.config_hash()

    def test_the_unit_is_the_logs_unit_id(self, tmp_path):
        assert load_one(tmp_path, variant(unit="unit_id")).unit == "unit_id"
        assert_config_error(tmp_path, variant(unit="session_id"), "`unit`", "'session_id'")

    def test_specs_are_frozen(self, tmp_path):
        spec = load_one(tmp_path, VALID)
        with pytest.raises(ValueError, match="frozen"):
            spec.alpha = 0.1
