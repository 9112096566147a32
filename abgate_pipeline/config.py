"""The experiment YAML and the ABGATE_* settings, turned into typed objects and validated once.

Everything else in the package takes these objects, never raw dicts or environment variables, so a
typo in the YAML fails at load time with the key that is wrong instead of deep inside a run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

PACKAGE_DIR = Path(__file__).resolve().parent
DEMO_EXPERIMENTS = PACKAGE_DIR / "demo" / "experiments.yaml"

# Log columns a metric may read with `column:` (numeric or boolean in the inference log contract).
LOG_METRIC_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "latency_ms",
    "fallback",
    "refusal",
    "schema_valid",
)
METRIC_KINDS = ("proportion", "mean", "ratio", "quantile", "count")

# An experiment id names its report folder, so it must be a safe file name: ASCII letters,
# digits, '.', '_' and '-', starting with a letter or digit (no '/', '..' or absolute paths).
EXPERIMENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
EXPERIMENT_ID_RULE = (
    "use up to 100 ASCII letters, digits, '.', '_' and '-', starting with a letter or digit "
    "(it names the report folder: no '/', '..', spaces or absolute paths)"
)
# YAML aliases let a small file expand into a huge document ("billion laughs"); an experiments
# file is a few hundred nodes, so an expansion beyond this many nodes is refused.
YAML_NODE_BUDGET = 100_000
ROLES = ("primary", "secondary", "guardrail")


class ConfigError(ValueError):
    """The experiments YAML or an ABGATE_* setting is wrong; the message names the key."""


def project_root() -> Path:
    """The checkout the package runs from (editable install), else the working directory."""
    candidate = PACKAGE_DIR.parent
    return candidate if (candidate / "pyproject.toml").exists() else Path.cwd()


@dataclass(frozen=True)
class Settings:
    """Where data comes from and goes to (DESIGN.md §2), each overridable by its variable."""

    landing_dir: Path
    experiments_file: Path
    warehouse: Path
    reports_dir: Path
    flags_file: Path

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        root = project_root()

        def path(var: str, default: Path) -> Path:
            value = env.get(var, "").strip()
            return Path(value).expanduser().resolve() if value else default

        return cls(
            landing_dir=path("ABGATE_LANDING_DIR", root / "data" / "landing"),
            experiments_file=path("ABGATE_EXPERIMENTS", DEMO_EXPERIMENTS),
            warehouse=path("ABGATE_WAREHOUSE", root / "data" / "warehouse.duckdb"),
            reports_dir=path("ABGATE_REPORTS_DIR", root / "reports"),
            flags_file=path("ABGATE_FLAGS_FILE", root / "data" / "flags" / "flags.flagd.json"),
        )


def read_yaml(path: Path) -> Any:
    """The experiments file's YAML document, refusing alias expansions beyond YAML_NODE_BUDGET."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError as err:
        raise ConfigError(f"experiments file not found: {path} (set ABGATE_EXPERIMENTS)") from err
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read the experiments file: {err}") from err
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        if _expanded_size(root, {}) > YAML_NODE_BUDGET:
            raise ConfigError(
                f"{path}: its YAML aliases expand to more than {YAML_NODE_BUDGET:,} nodes; "
                "write the document out instead of nesting aliases"
            )
        return loader.construct_document(root)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from err
    finally:
        loader.dispose()


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """Nodes in the document once every alias is expanded (each shared node counted per use).

    Memoized per node, so a bomb is measured in time linear in its (small) source; the sizes are
    capped just above the budget so the count itself stays small.
    """
    key = id(node)
    if key not in sizes:
        sizes[key] = YAML_NODE_BUDGET + 1  # a cycle counts as over budget
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        else:
            children = []
        total = 1
        for child in children:
            total = min(total + _expanded_size(child, sizes), YAML_NODE_BUDGET + 1)
        sizes[key] = total
    return sizes[key]


# --- the experiment YAML ---------------------------------------------------------------------
#
# Validators raise a message without the key ("must be a number, got 'x'"); `_config_error`
# puts the key path in front, so every error names the key that is wrong.


def _number(value: Any) -> float:
    """A YAML number, not a string such as "5%" or a bool."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"must be a number, got {value!r}")
    return float(value)


def _whole(value: Any) -> int:
    number = _number(value)
    if number != int(number):
        raise ValueError(f"must be a whole number, got {value!r}")
    return int(number)


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, got {value!r}")
    return value


def _required_name(value: Any) -> str:
    """A non-empty name; an empty string counts as missing."""
    if value is None or value == "":
        raise PydanticCustomError("missing", "missing")
    if isinstance(value, bool | dict | list):
        raise ValueError(f"must be a name, got {value!r}")
    return str(value)


def _names(value: Any) -> tuple[str, ...]:
    """A list of names; a single name is a list of one."""
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"must be a list of names, got {value!r}")
    return tuple(value)


def _required_names(value: Any) -> tuple[str, ...]:
    if value is None or value == "" or value == []:
        raise PydanticCustomError("missing", "missing")
    return _names(value)


def _unit(value: Any) -> str:
    if value != "unit_id":
        raise ValueError(
            f"must be unit_id, got {value!r}: the randomization unit is the inference log's "
            "`unit_id` field; map your column to it with `column_mapping.inference_logs.unit_id`"
        )
    return value


def _day(value: Any) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return date.fromisoformat(value)
    raise ValueError(f"must be YYYY-MM-DD, got {value!r}")


def _experiment_id(value: Any) -> str:
    if value is None or value == "":
        raise PydanticCustomError("missing", "missing")
    if not isinstance(value, str) or not EXPERIMENT_ID.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid experiment id: {EXPERIMENT_ID_RULE}")
    return value


def one_of(*choices: str) -> Any:
    """A string type that is one of `choices` (an `enum` in the JSON Schema)."""

    def check(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    return Annotated[
        str, BeforeValidator(check), WithJsonSchema({"type": "string", "enum": list(choices)})
    ]


_NAMES_SCHEMA = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
Number = Annotated[float, BeforeValidator(_number)]
Whole = Annotated[int, BeforeValidator(_whole)]
Flag = Annotated[bool, BeforeValidator(_flag)]
RequiredName = Annotated[
    str, BeforeValidator(_required_name), WithJsonSchema({"type": "string", "minLength": 1})
]
Names = Annotated[tuple[str, ...], BeforeValidator(_names), WithJsonSchema(_NAMES_SCHEMA)]
RequiredNames = Annotated[
    tuple[str, ...], BeforeValidator(_required_names), WithJsonSchema(_NAMES_SCHEMA)
]
Day = Annotated[date, BeforeValidator(_day), WithJsonSchema({"type": "string", "format": "date"})]
Direction = one_of("higher", "lower")
Scale = one_of("relative", "absolute")

_MODEL = ConfigDict(extra="forbid", frozen=True)


class MetricSpec(BaseModel):
    """One metric of an experiment. `mde` and `margin` are relative unless `*_type: absolute`."""

    model_config = _MODEL

    name: RequiredName
    role: one_of(*ROLES) = Field(
        description="primary: decides promote/rollback; guardrail: must not be worse than its "
        "margin; secondary: reported, corrected for multiple testing"
    )
    kind: one_of(*METRIC_KINDS)
    better: Direction = "higher"
    outcome: str | None = Field(None, description="The outcome event name the metric reads.")
    column: one_of(*LOG_METRIC_COLUMNS) | None = Field(
        None, description="The inference-log column the metric reads (averaged per unit)."
    )
    numerator: str | None = None
    denominator: str | None = None
    q: Number | None = None
    mde: Number | None = Field(
        None, description="Minimum detectable effect the sample is planned for (relative)."
    )
    mde_type: Scale = "relative"
    margin: Number | None = Field(
        None, description="A guardrail's non-inferiority margin: the most harm tolerated."
    )
    margin_type: Scale = "relative"
    missing: one_of("zero", "exclude") = "zero"
    winsorize: Number | None = None  # cap per-unit values at this pooled quantile (mean/count)

    @model_validator(mode="after")
    def _consistent(self) -> MetricSpec:
        checks = [
            (self.role != "guardrail" or self.margin is not None, "a guardrail needs a `margin`"),
            (self.margin is None or self.margin >= 0, "`margin` must be >= 0"),
            (self.mde is None or self.mde > 0, "`mde` must be > 0"),
            (
                self.winsorize is None
                or (0.5 < self.winsorize < 1 and self.kind in ("mean", "count")),
                "`winsorize` is a quantile in (0.5, 1) and applies to mean and count metrics",
            ),
        ]
        if self.kind == "ratio":
            checks.append(
                (bool(self.numerator and self.denominator), "a ratio needs numerator/denominator")
            )
        else:
            checks.append(
                (
                    bool(self.outcome) != bool(self.column),
                    "give exactly one of `outcome` or `column`",
                )
            )
        if self.kind == "quantile":
            checks.append((self.column is not None, "a quantile metric reads a log `column`"))
            checks.append((self.q is not None and 0 < self.q < 1, "a quantile needs 0 < q < 1"))
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        return self

    @property
    def source(self) -> str:
        """`outcome` or `column` for single-source metrics (ratio metrics have two sources)."""
        return "outcome" if self.outcome else "column"

    @property
    def source_name(self) -> str | None:
        return self.outcome or self.column


def _steps(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list | tuple):
        raise ValueError(f"must be a list of percentages, got {value!r}")
    steps = tuple(_whole(step) for step in value)
    if list(steps) != sorted(set(steps)) or not all(0 < step <= 100 for step in steps):
        raise ValueError("must be increasing percentages in (0, 100]")
    return steps


class RolloutSpec(BaseModel):
    """The percentages the challengers are ramped through, and above which a person approves."""

    model_config = _MODEL

    steps: Annotated[
        tuple[int, ...],
        BeforeValidator(_steps),
        WithJsonSchema(
            {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 100}}
        ),
    ] = (10, 50, 100)
    approval_above: Whole = 50

    def next_step(self, current_pct: int) -> int | None:
        """The next rollout percentage above the current one, or None at the last step."""
        return next((s for s in self.steps if s > current_pct), None)

    def requires_approval(self, target_pct: int) -> bool:
        return target_pct > self.approval_above


# Documentation keys: shown to readers, not part of what the verdict is computed from (and so
# not in the config hash).
DOCUMENTATION_KEYS = ("description", "owner", "tags")


class ExperimentSpec(BaseModel):
    """One experiment of the YAML (README "Experiment YAML", DESIGN.md §2)."""

    model_config = _MODEL

    id: Annotated[
        str,
        BeforeValidator(_experiment_id),
        WithJsonSchema({"type": "string", "pattern": f"^{EXPERIMENT_ID.pattern}$"}),
    ]
    flag_key: RequiredName
    champion: RequiredName
    challengers: RequiredNames
    start: Day
    metrics: tuple[MetricSpec, ...] = ()
    unit: Annotated[
        str, BeforeValidator(_unit), WithJsonSchema({"type": "string", "enum": ["unit_id"]})
    ] = Field(
        "unit_id",
        description="The randomization unit: the inference log's `unit_id` field (map another "
        "column to it with `column_mapping.inference_logs.unit_id`).",
    )
    attribution_window_hours: Number = 72.0
    alpha: Number = Field(0.05, description="Significance level of every test.")
    power: Number = Field(0.8, description="Power the sample is planned for, at the MDE.")
    sequential: Flag = Field(
        True, description="Keep the error rate honest under daily looks (alpha spending)."
    )
    segments: Names = ()
    allocation: dict[str, Number] = Field(
        default_factory=dict,
        description="Intended percent per variant (the SRM null before any flag change); "
        "default: an equal split.",
    )
    rollout: RolloutSpec = RolloutSpec()
    correction: one_of("holm", "bh", "none") = Field(
        "holm", description="Correction across challengers and secondary metrics."
    )
    min_units_per_arm: Whole = Field(
        100, description="Units each arm needs before a sequential test may promote."
    )
    pre_period_days: Whole = 0  # days before `start` whose unit-tagged outcomes feed CUPED
    cuped: Flag = True
    bayes_prior_std: Number | None = None  # N(0, sd) prior on the relative lift; None = flat
    description: str | None = None
    owner: str | None = None
    tags: Names = ()

    @model_validator(mode="before")
    @classmethod
    def _equal_split_by_default(cls, raw: Any) -> Any:
        """No `allocation`: every variant gets an equal share."""
        if isinstance(raw, dict) and not raw.get("allocation"):
            champion, challengers = raw.get("champion"), raw.get("challengers")
            named = [champion] + (
                [challengers] if isinstance(challengers, str) else list(challengers or [])
            )
            if all(isinstance(v, str) and v for v in named):
                raw = {**raw, "allocation": {v: 100.0 / len(named) for v in named}}
        return raw

    @model_validator(mode="after")
    def _consistent(self) -> ExperimentSpec:
        variants = self.variants
        checks = [
            (
                self.champion not in self.challengers
                and len(set(self.challengers)) == len(self.challengers),
                "`challengers` must be distinct and exclude the champion",
            ),
            (
                set(self.allocation) == set(variants)
                and all(v >= 0 for v in self.allocation.values()),
                f"`allocation` must give a share >= 0 to exactly {variants}",
            ),
            (sum(self.allocation.values()) > 0, "`allocation` shares must not all be zero"),
            (
                sum(m.role == "primary" for m in self.metrics) == 1,
                "exactly one metric must have `role: primary`",
            ),
            (
                len({m.name for m in self.metrics}) == len(self.metrics),
                f"metric names must be unique, got {[m.name for m in self.metrics]}",
            ),
            (
                0 < self.alpha < 0.5 and 0 < self.power < 1,
                "need 0 < `alpha` < 0.5 and 0 < `power` < 1",
            ),
            (self.attribution_window_hours > 0, "`attribution_window_hours` must be positive"),
            (
                self.pre_period_days >= 0 and self.min_units_per_arm >= 2,
                "need `pre_period_days` >= 0 and `min_units_per_arm` >= 2",
            ),
            (
                self.bayes_prior_std is None or self.bayes_prior_std > 0,
                "`bayes_prior_std` must be > 0 (omit it for a flat prior)",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        return self

    @property
    def first_day(self) -> date:
        """The earliest day the experiment reads data from (the pre-period included)."""
        return self.start - timedelta(days=self.pre_period_days)

    @property
    def variants(self) -> tuple[str, ...]:
        return (self.champion, *self.challengers)

    @property
    def primary(self) -> MetricSpec:
        return next(m for m in self.metrics if m.role == "primary")

    def expected_shares(self) -> dict[str, float]:
        """Intended traffic share per variant (the SRM null), normalised to sum to 1."""
        total = sum(self.allocation.values())
        return {v: self.allocation[v] / total for v in self.variants}

    def config_hash(self) -> str:
        """A stable hash of what the verdict is computed from, stored with every verdict."""
        payload = json.dumps(
            self.model_dump(mode="json", exclude=set(DOCUMENTATION_KEYS)), sort_keys=True
        )
        return "sha256:" + hashlib.sha256(payload.encode()).hexdigest()


# Top-level keys of the experiments file besides `experiments`; `x-*` keys are free (YAML
# anchors for shared metric definitions, say).
TOP_LEVEL_KEYS = ("experiments", "column_mapping")


def load_experiments(path: Path) -> tuple[ExperimentSpec, ...]:
    """Read and validate the experiments YAML (DESIGN.md §2); raise ConfigError on any problem."""
    document = read_yaml(path)
    if not isinstance(document, dict) or not isinstance(document.get("experiments"), list):
        raise ConfigError(f"{path}: expected a top-level `experiments:` list")
    unknown = sorted(
        str(k) for k in document if k not in TOP_LEVEL_KEYS and not str(k).startswith("x-")
    )
    if unknown:
        raise ConfigError(
            f"{path}: unknown top-level keys {unknown} (typo?); expected {list(TOP_LEVEL_KEYS)} "
            "or `x-...` keys for shared YAML anchors"
        )
    experiments = []
    for i, raw in enumerate(document["experiments"]):
        where = f"{path}: experiments[{i}]"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: expected a mapping")
        if isinstance(raw.get("id"), str) and raw["id"]:
            where += f" ({raw['id']})"
        try:
            experiments.append(ExperimentSpec.model_validate(raw))
        except ValidationError as error:
            raise ConfigError(_config_error(where, raw, error)) from None
    ids = [e.id for e in experiments]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{path}: experiment ids must be unique, got {ids}")
    if not experiments:
        raise ConfigError(f"{path}: no experiments configured")
    return tuple(experiments)


def _config_error(where: str, raw: dict, error: ValidationError) -> str:
    """Every problem pydantic found, one per line, each with the key path it is about."""
    lines = []
    unknown: dict[str, list[str]] = {}
    for problem in error.errors():
        context, key = _location(where, raw, problem["loc"])
        kind = problem["type"]
        if kind == "extra_forbidden":
            unknown.setdefault(context, []).append(key.rsplit(".", 1)[-1])
            continue
        if kind == "missing":
            lines.append(f"{context}: missing required key `{key}`")
        elif kind == "model_type" or (kind == "dict_type" and key == ""):
            lines.append(f"{context}: expected a mapping")
        else:
            message = problem["msg"].removeprefix("Value error, ")
            if kind not in ("value_error",):
                message = f"{message}, got {problem.get('input')!r}"
            lines.append(f"{context}: `{key}` {message}" if key else f"{context}: {message}")
    for context, keys in unknown.items():
        lines.insert(0, f"{context}: unknown keys {sorted(keys)} (typo?)")
    return "\n".join(dict.fromkeys(lines))


def _location(where: str, raw: dict, loc: tuple) -> tuple[str, str]:
    """Where a problem is (the experiment, or one of its metrics, by position and name) and the
    dotted key it is about (empty for a problem of the whole mapping)."""
    context, keys = where, []
    parts = list(loc)
    if len(parts) >= 2 and parts[0] == "metrics" and isinstance(parts[1], int):
        metrics = raw.get("metrics") or []
        metric = metrics[parts[1]] if parts[1] < len(metrics) else None
        name = metric.get("name") if isinstance(metric, dict) else None
        context = f"{where}: metrics[{parts[1]}]" + (f" ({name})" if name else "")
        parts = parts[2:]
    for part in parts:
        if isinstance(part, str) and not part.startswith(("function-", "literal[")):
            keys.append(part)
    return context, ".".join(keys)


def ratio_part_source(name: str) -> str:
    """A ratio's numerator/denominator reads a log column if it names one, else an outcome."""
    return "column" if name in LOG_METRIC_COLUMNS else "outcome"
