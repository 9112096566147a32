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
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

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


@dataclass(frozen=True)
class MetricSpec:
    """One metric of an experiment. `mde` and `margin` are relative unless `*_type: absolute`."""

    name: str
    role: str
    kind: str
    better: str = "higher"
    outcome: str | None = None
    column: str | None = None
    numerator: str | None = None
    denominator: str | None = None
    q: float | None = None
    mde: float | None = None
    mde_type: str = "relative"
    margin: float | None = None
    margin_type: str = "relative"
    missing: str = "zero"
    winsorize: float | None = None  # cap per-unit values at this pooled quantile (mean/count)

    @property
    def source(self) -> str:
        """`outcome` or `column` for single-source metrics (ratio metrics have two sources)."""
        return "outcome" if self.outcome else "column"

    @property
    def source_name(self) -> str | None:
        return self.outcome or self.column


@dataclass(frozen=True)
class RolloutSpec:
    steps: tuple[int, ...] = (10, 50, 100)
    approval_above: int = 50

    def next_step(self, current_pct: int) -> int | None:
        """The next rollout percentage above the current one, or None at the last step."""
        return next((s for s in self.steps if s > current_pct), None)

    def requires_approval(self, target_pct: int) -> bool:
        return target_pct > self.approval_above


@dataclass(frozen=True)
class ExperimentSpec:
    id: str
    flag_key: str
    champion: str
    challengers: tuple[str, ...]
    start: date
    metrics: tuple[MetricSpec, ...]
    unit: str = "unit_id"
    attribution_window_hours: float = 72.0
    alpha: float = 0.05
    power: float = 0.8
    sequential: bool = True
    segments: tuple[str, ...] = ()
    allocation: dict[str, float] = field(default_factory=dict)
    rollout: RolloutSpec = field(default_factory=RolloutSpec)
    correction: str = "holm"
    min_units_per_arm: int = 100
    pre_period_days: int = 0  # days before `start` whose unit-tagged outcomes feed CUPED
    cuped: bool = True
    bayes_prior_std: float | None = None  # N(0, sd) prior on the relative lift; None = flat

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
        """A stable hash of the experiment's whole configuration, stored with every verdict."""
        payload = json.dumps(asdict(self), sort_keys=True, default=str)
        return "sha256:" + hashlib.sha256(payload.encode()).hexdigest()


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


def load_experiments(path: Path) -> tuple[ExperimentSpec, ...]:
    """Read and validate the experiments YAML (DESIGN.md §2); raise ConfigError on any problem."""
    document = read_yaml(path)
    if not isinstance(document, dict) or not isinstance(document.get("experiments"), list):
        raise ConfigError(f"{path}: expected a top-level `experiments:` list")
    experiments = tuple(
        _parse_experiment(raw, f"{path}: experiments[{i}]")
        for i, raw in enumerate(document["experiments"])
    )
    ids = [e.id for e in experiments]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{path}: experiment ids must be unique, got {ids}")
    if not experiments:
        raise ConfigError(f"{path}: no experiments configured")
    return experiments


EXPERIMENT_KEYS = frozenset(
    {
        "id", "flag_key", "champion", "challengers", "unit", "start", "attribution_window_hours",
        "alpha", "power", "sequential", "metrics", "segments", "allocation", "rollout",
        "correction", "min_units_per_arm", "pre_period_days", "cuped", "bayes_prior_std",
        "description", "owner", "tags",  # free-form documentation, ignored
    }
)  # fmt: skip


def _require(raw: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in raw or raw[key] in (None, ""):
        raise ConfigError(f"{where}: missing required key `{key}`")
    return raw[key]


def _number(value: Any, key: str, where: str, *, integer: bool = False) -> float:
    """A YAML number (not a string like "5%" or a bool), else a ConfigError naming the key."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}: `{key}` must be a number, got {value!r}")
    if integer and value != int(value):
        raise ConfigError(f"{where}: `{key}` must be a whole number, got {value!r}")
    return int(value) if integer else float(value)


def _flag(value: Any, key: str, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: `{key}` must be true or false, got {value!r}")
    return value


def _names(value: Any, key: str, where: str) -> tuple[str, ...]:
    """A list of names; a single name is a list of one."""
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}: `{key}` must be a list of names, got {value!r}")
    return tuple(value)


def _day(value: Any, key: str, where: str) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return date.fromisoformat(value)
    raise ConfigError(f"{where}: `{key}` must be YYYY-MM-DD, got {value!r}")


def _parse_experiment(raw: Any, where: str) -> ExperimentSpec:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping")
    exp_id = _require(raw, "id", where)
    if not isinstance(exp_id, str) or not EXPERIMENT_ID.fullmatch(exp_id):
        raise ConfigError(
            f"{where}: `id` {exp_id!r} is not a valid experiment id: {EXPERIMENT_ID_RULE}"
        )
    where = f"{where} ({exp_id})"
    unknown = set(raw) - EXPERIMENT_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)} (typo?)")
    champion = str(_require(raw, "champion", where))
    challengers = _names(_require(raw, "challengers", where), "challengers", where)
    if champion in challengers or len(set(challengers)) != len(challengers):
        raise ConfigError(f"{where}: `challengers` must be distinct and exclude the champion")
    variants = (champion, *challengers)
    start = _day(_require(raw, "start", where), "start", where)
    allocation = {
        str(k): _number(v, "allocation", where) for k, v in (raw.get("allocation") or {}).items()
    }
    if not allocation:
        allocation = {v: 100.0 / len(variants) for v in variants}
    if set(allocation) != set(variants) or any(v < 0 for v in allocation.values()):
        raise ConfigError(f"{where}: `allocation` must give a share >= 0 to exactly {variants}")
    if sum(allocation.values()) <= 0:
        raise ConfigError(f"{where}: `allocation` shares must not all be zero")
    metrics = tuple(
        _parse_metric(m, f"{where}: metrics[{i}]") for i, m in enumerate(raw.get("metrics") or [])
    )
    if sum(m.role == "primary" for m in metrics) != 1:
        raise ConfigError(f"{where}: exactly one metric must have `role: primary`")
    names = [m.name for m in metrics]
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}: metric names must be unique, got {names}")
    rollout_raw = raw.get("rollout") or {}
    rollout = RolloutSpec(
        steps=tuple(
            _number(s, "rollout.steps", where, integer=True)
            for s in rollout_raw.get("steps", (10, 50, 100))
        ),
        approval_above=_number(
            rollout_raw.get("approval_above", 50), "rollout.approval_above", where, integer=True
        ),
    )
    if list(rollout.steps) != sorted(set(rollout.steps)) or not all(
        0 < s <= 100 for s in rollout.steps
    ):
        raise ConfigError(f"{where}: `rollout.steps` must be increasing percentages in (0, 100]")
    alpha = _number(raw.get("alpha", 0.05), "alpha", where)
    power = _number(raw.get("power", 0.8), "power", where)
    if not (0 < alpha < 0.5 and 0 < power < 1):
        raise ConfigError(f"{where}: need 0 < `alpha` < 0.5 and 0 < `power` < 1")
    window = _number(raw.get("attribution_window_hours", 72), "attribution_window_hours", where)
    if window <= 0:
        raise ConfigError(f"{where}: `attribution_window_hours` must be positive")
    pre_period_days = _number(raw.get("pre_period_days", 0), "pre_period_days", where, integer=True)
    min_units = _number(raw.get("min_units_per_arm", 100), "min_units_per_arm", where, integer=True)
    if pre_period_days < 0 or min_units < 2:
        raise ConfigError(f"{where}: need `pre_period_days` >= 0 and `min_units_per_arm` >= 2")
    prior_std = raw.get("bayes_prior_std")
    if prior_std is not None and _number(prior_std, "bayes_prior_std", where) <= 0:
        raise ConfigError(f"{where}: `bayes_prior_std` must be > 0 (omit it for a flat prior)")
    correction = str(raw.get("correction", "holm"))
    if correction not in ("holm", "bh", "none"):
        raise ConfigError(f"{where}: `correction` must be holm, bh or none")
    return ExperimentSpec(
        id=exp_id,
        flag_key=str(_require(raw, "flag_key", where)),
        champion=champion,
        challengers=challengers,
        start=start,
        metrics=metrics,
        unit=str(raw.get("unit", "unit_id")),
        attribution_window_hours=window,
        alpha=alpha,
        power=power,
        sequential=_flag(raw.get("sequential", True), "sequential", where),
        segments=_names(raw.get("segments") or [], "segments", where),
        allocation=allocation,
        rollout=rollout,
        correction=correction,
        min_units_per_arm=min_units,
        pre_period_days=pre_period_days,
        cuped=_flag(raw.get("cuped", True), "cuped", where),
        bayes_prior_std=prior_std,
    )


def _parse_metric(raw: Any, where: str) -> MetricSpec:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping")
    name = str(_require(raw, "name", where))
    where = f"{where} ({name})"
    known = {f for f in MetricSpec.__dataclass_fields__}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    numbers = {
        k: _number(raw[k], k, where)
        for k in ("q", "mde", "margin", "winsorize")
        if raw.get(k) is not None
    }
    spec = MetricSpec(**{**{k: v for k, v in raw.items() if k in known}, **numbers})
    checks = [
        (spec.role in ROLES, f"`role` must be one of {ROLES}"),
        (spec.kind in METRIC_KINDS, f"`kind` must be one of {METRIC_KINDS}"),
        (spec.better in ("higher", "lower"), "`better` must be higher or lower"),
        (spec.missing in ("zero", "exclude"), "`missing` must be zero or exclude"),
        (spec.mde_type in ("relative", "absolute"), "`mde_type` must be relative or absolute"),
        (
            spec.margin_type in ("relative", "absolute"),
            "`margin_type` must be relative or absolute",
        ),
        (spec.role != "guardrail" or spec.margin is not None, "a guardrail needs a `margin`"),
        (spec.margin is None or spec.margin >= 0, "`margin` must be >= 0"),
        (spec.mde is None or spec.mde > 0, "`mde` must be > 0"),
        (
            spec.winsorize is None or (0.5 < spec.winsorize < 1 and spec.kind in ("mean", "count")),
            "`winsorize` is a quantile in (0.5, 1) and applies to mean and count metrics",
        ),
    ]
    if spec.kind == "ratio":
        checks.append(
            (bool(spec.numerator and spec.denominator), "a ratio needs numerator/denominator")
        )
    else:
        checks.append(
            (bool(spec.outcome) != bool(spec.column), "give exactly one of `outcome` or `column`")
        )
    if spec.column:
        checks.append(
            (spec.column in LOG_METRIC_COLUMNS, f"`column` must be one of {LOG_METRIC_COLUMNS}")
        )
    if spec.kind == "quantile":
        checks.append((spec.column is not None, "a quantile metric reads a log `column`"))
        checks.append((spec.q is not None and 0 < spec.q < 1, "a quantile needs 0 < q < 1"))
    for ok, message in checks:
        if not ok:
            raise ConfigError(f"{where}: {message}")
    return spec


def ratio_part_source(name: str) -> str:
    """A ratio's numerator/denominator reads a log column if it names one, else an outcome."""
    return "column" if name in LOG_METRIC_COLUMNS else "outcome"
