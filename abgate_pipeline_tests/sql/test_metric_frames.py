"""The metric-frame SQL against per-unit values computed independently with numpy.

A small experiment table is written straight into an in-memory warehouse; `sql/metric_frames.sql`
must turn it into the sufficient statistics that the README's per-unit rules describe."""

import math
from datetime import date, datetime

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml

from abgate_pipeline import warehouse
from abgate_pipeline.config import load_experiments

AS_OF = date(2026, 11, 10)
CONFIG = {
    "experiments": [
        {
            "id": "exp", "flag_key": "exp-flag", "champion": "a", "challengers": ["b"],
            "start": "2026-11-01", "pre_period_days": 7, "segments": ["tier"],
            "metrics": [
                {"name": "resolved", "role": "primary", "kind": "proportion", "outcome": "resolved", "mde": 0.1},
                {"name": "spend", "role": "secondary", "kind": "mean", "outcome": "spend", "winsorize": 0.9},
                {"name": "csat", "role": "secondary", "kind": "mean", "outcome": "csat", "missing": "exclude"},
                {"name": "latency", "role": "secondary", "kind": "mean", "column": "latency_ms"},
                {"name": "cost_per_resolved", "role": "secondary", "kind": "ratio", "numerator": "cost_usd", "denominator": "resolved"},
            ],
        }
    ]
}  # fmt: skip


def make_units(n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    mature = rng.integers(0, 4, n)  # some units have no correlation key whose window closed
    return pd.DataFrame(
        {
            "unit_id": [f"u{i}" for i in range(n)],
            "variant": np.where(rng.random(n) < 0.5, "a", "b"),
            "tier": np.where(rng.random(n) < 0.3, "gold", "basic"),
            "n_mature_keys": mature,
            "resolved": np.minimum(mature, rng.integers(0, 3, n)),  # mature keys resolved
            "spend": np.where(rng.random(n) < 0.5, rng.lognormal(3, 1.5, n), np.nan),
            "csat": np.where(rng.random(n) < 0.4, rng.integers(1, 6, n) * 1.0, np.nan),
            "latency_sum": rng.uniform(500, 5000, n),
            "requests": rng.integers(1, 6, n),
            "cost_mature": rng.uniform(0, 0.05, n),
            "pre": rng.poisson(1.0, n) * 1.0,
            # pre-period cost of the unit's requests; NaN: no pre-period requests (counts as 0)
            "pre_cost": np.where(rng.random(n) < 0.7, rng.uniform(0, 0.05, n), np.nan),
        }
    )


def value_rows(units: pd.DataFrame) -> pd.DataFrame:
    """experiment_unit_values rows (outcomes): what sql/experiment_table.sql would produce."""
    rows = []
    for u in units.itertuples():
        base = {"as_of": AS_OF, "experiment_id": "exp", "unit_id": u.unit_id}
        if u.resolved > 0:
            rows.append({**base, "source": "outcome", "name": "resolved", "mature_sum": u.resolved, "mature_any": u.resolved, "mature_present": u.resolved})  # fmt: skip
        if not math.isnan(u.spend):
            rows.append({**base, "source": "outcome", "name": "spend", "mature_sum": u.spend, "mature_any": 1, "mature_present": 1})  # fmt: skip
        if not math.isnan(u.csat):
            rows.append({**base, "source": "outcome", "name": "csat", "mature_sum": u.csat, "mature_any": 1, "mature_present": 1})  # fmt: skip
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def units() -> pd.DataFrame:
    return make_units()


@pytest.fixture(scope="module")
def frames(units, tmp_path_factory) -> pd.DataFrame:
    path = tmp_path_factory.mktemp("cfg") / "experiments.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    con = duckdb.connect()
    warehouse.ensure_schema(con)
    warehouse.sync_config(con, load_experiments(path))
    unit_rows = pd.DataFrame(
        {
            "as_of": AS_OF, "experiment_id": "exp", "unit_id": units["unit_id"],
            "variant": units["variant"], "n_variants": 1, "first_exposure": datetime(2026, 11, 2),
            "requests": units["requests"], "n_keys": units["n_mature_keys"] + 1,
            "n_mature_keys": units["n_mature_keys"], "tier": units["tier"],
            "latency_ms_sum": units["latency_sum"], "latency_ms_count": units["requests"],
            "cost_usd_sum": 2 * units["cost_mature"], "cost_usd_count": units["requests"],
            "cost_usd_mature_sum": units["cost_mature"],
        }
    )  # fmt: skip
    with_cost = units[units["pre_cost"].notna()]
    pre_rows = pd.concat([
        pd.DataFrame({"as_of": AS_OF, "experiment_id": "exp", "unit_id": units["unit_id"], "source": "outcome", "outcome": "resolved", "pre_value": units["pre"]}),
        pd.DataFrame({"as_of": AS_OF, "experiment_id": "exp", "unit_id": with_cost["unit_id"], "source": "column", "outcome": "cost_usd", "pre_value": with_cost["pre_cost"]}),
    ])  # fmt: skip
    for name, frame in (("u", unit_rows), ("v", value_rows(units)), ("p", pre_rows)):
        con.register(name, frame)
    con.execute(
        "INSERT INTO experiment_units BY NAME "
        "SELECT * EXCLUDE (tier), MAP {'tier': tier} AS attributes FROM u"
    )
    con.execute("INSERT INTO experiment_unit_values BY NAME SELECT * FROM v")
    con.execute("INSERT INTO experiment_unit_pre BY NAME SELECT * FROM p")
    return warehouse.run(con, "metric_frames", as_of=AS_OF)


def expected_values(units: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per-unit y (and d, x) by the README rules, computed here without SQL."""
    mature = units["n_mature_keys"] > 0
    u = units.assign(d=np.nan, x=np.nan)
    if metric == "resolved":
        u = u[mature].assign(y=lambda f: f["resolved"] / f["n_mature_keys"], x=lambda f: f["pre"])
    elif metric == "spend":
        u = u[mature].assign(y=lambda f: f["spend"].fillna(0) / f["n_mature_keys"])
        ordered = np.sort(u["y"].to_numpy())
        cap = ordered[math.ceil(0.9 * len(ordered)) - 1]
        u = u.assign(y=np.minimum(u["y"], cap))
    elif metric == "csat":
        u = u[mature & units["csat"].notna()].assign(y=lambda f: f["csat"])
    elif metric == "latency":
        u = u.assign(y=u["latency_sum"] / u["requests"])
    else:  # the ratio's CUPED covariates: pre-period cost (x) and resolutions (xd)
        u = u[mature].assign(
            y=lambda f: f["cost_mature"],
            d=lambda f: f["resolved"] * 1.0,
            x=lambda f: f["pre_cost"].fillna(0.0),
            xd=lambda f: f["pre"],
        )
    return u


@pytest.mark.parametrize("metric", ["resolved", "spend", "csat", "latency", "cost_per_resolved"])
@pytest.mark.parametrize("variant", ["a", "b"])
def test_sufficient_statistics_match_the_per_unit_rules(frames, units, metric, variant):
    u = expected_values(units, metric)
    u = u[u["variant"] == variant]
    got = frames[
        (frames["metric"] == metric)
        & (frames["variant"] == variant)
        & (frames["segment"] == "__all__")
    ].iloc[0]
    assert got["n"] == len(u)
    assert got["sum"] == pytest.approx(u["y"].sum(), rel=1e-9)
    assert got["sum_sq"] == pytest.approx((u["y"] ** 2).sum(), rel=1e-9)
    if metric == "cost_per_resolved":
        assert got["den_sum"] == pytest.approx(u["d"].sum(), rel=1e-9)
        assert got["den_sum_sq"] == pytest.approx((u["d"] ** 2).sum(), rel=1e-9)
        assert got["cross_sum"] == pytest.approx((u["y"] * u["d"]).sum(), rel=1e-9)
    if metric == "resolved":  # the CUPED covariate: the unit's pre-period value
        assert got["pre_sum"] == pytest.approx(u["x"].sum(), rel=1e-9)
        assert got["pre_sum_sq"] == pytest.approx((u["x"] ** 2).sum(), rel=1e-9)
        assert got["pre_cross_sum"] == pytest.approx((u["x"] * u["y"]).sum(), rel=1e-9)
    elif metric in ("spend", "csat"):  # no pre-period events of these outcomes: x = 0 for all
        assert got["pre_sum"] == 0 and got["pre_sum_sq"] == 0
    elif metric == "cost_per_resolved":  # every entry of the 4x4 covariance of (y, d, x, xd)
        y, d, x, xd = (u[c] for c in ("y", "d", "x", "xd"))
        expected = {
            "pre_sum": x.sum(), "pre_sum_sq": (x**2).sum(), "pre_cross_sum": (y * x).sum(),
            "pre_den_sum": xd.sum(), "pre_den_sum_sq": (xd**2).sum(),
            "pre_num_den_sum": (x * xd).sum(), "den_pre_den_sum": (d * xd).sum(),
            "num_pre_den_sum": (y * xd).sum(), "den_pre_num_sum": (d * x).sum(),
        }  # fmt: skip
        for column, value in expected.items():
            assert got[column] == pytest.approx(value, rel=1e-9), column
    else:  # a mean of a log column has no covariate
        assert pd.isna(got["pre_sum"])
    if metric != "cost_per_resolved":
        assert pd.isna(got["pre_den_sum"])


def test_winsorization_caps_at_the_pooled_quantile(frames, units):
    spend = frames[frames["metric"] == "spend"]
    assert spend["cap"].notna().all() and spend["cap"].nunique() == 1
    assert frames.loc[frames["metric"] != "spend", "cap"].isna().all()


def test_segments_split_the_units(frames, units):
    for metric in ("latency", "resolved"):
        rows = frames[(frames["metric"] == metric) & (frames["segment"] == "tier")]
        overall = frames[(frames["metric"] == metric) & (frames["segment"] == "__all__")]
        assert set(rows["segment_value"]) == {"gold", "basic"}
        assert rows["n"].sum() == overall["n"].sum()
        assert rows["sum"].sum() == pytest.approx(overall["sum"].sum(), rel=1e-9)
