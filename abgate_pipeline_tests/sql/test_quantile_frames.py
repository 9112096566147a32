"""The quantile SQL (`sql/quantile_counts.sql` + `sql/quantile_values.sql`) against numpy.

Requests and units are written straight into an in-memory warehouse; the order statistics the SQL
returns must be exactly numpy's sorted values at the ranks `order_statistic_ranks` names, overall
and per segment, whatever threshold step 2 is given (it only decides how much is sorted)."""

from datetime import date, datetime

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml

from abgate_pipeline import warehouse
from abgate_pipeline.config import load_experiments
from abgate_pipeline.defs import metrics
from abgate_pipeline.defs.metrics import TAIL_MIN_N, quantile_ranks, tail_threshold
from abgate_pipeline.stats import order_statistic_ranks

AS_OF = date(2026, 11, 10)
CONFIG = {
    "experiments": [
        {
            "id": "exp", "flag_key": "exp-flag", "champion": "a", "challengers": ["b"],
            "start": "2026-11-01", "segments": ["tier"], "alpha": 0.05,
            "metrics": [
                {"name": "resolved", "role": "primary", "kind": "proportion", "outcome": "resolved"},
                {"name": "p90_latency", "role": "guardrail", "kind": "quantile", "column": "latency_ms",
                 "q": 0.9, "better": "lower", "margin": 0.1},
                {"name": "median_tokens", "role": "secondary", "kind": "quantile",
                 "column": "output_tokens", "q": 0.5},
            ],
        }
    ]
}  # fmt: skip
KEY = ["metric", "variant", "segment", "segment_value"]


def make_requests(n_units: int, n_requests: int, seed: int) -> pd.DataFrame:
    """Requests of `n_units` units; a unit's variant and tier are its own for all its requests
    (5 % of units have no tier: segment value `(missing)`), one unit (u0) is served both variants
    and must be left out; latencies tie often (rounded) and 5 % are not logged."""
    rng = np.random.default_rng(seed)
    units = pd.DataFrame(
        {
            "unit_id": [f"u{i}" for i in range(n_units)],
            "variant": np.where(rng.random(n_units) < 0.7, "a", "b"),
            "tier": rng.choice(["gold", "basic", "free"], n_units),
        }
    )
    units.loc[units.index[1 : 1 + n_units // 20], "tier"] = None
    rows = units.sample(n_requests, replace=True, random_state=seed).reset_index(drop=True)
    rows["latency_ms"] = np.round(rng.lognormal(6, 0.6, len(rows)), -1)
    rows.loc[rng.random(len(rows)) < 0.05, "latency_ms"] = np.nan  # not logged: not a value
    rows["output_tokens"] = rng.integers(1, 400, len(rows))
    rows.loc[rows.index[:3], ["unit_id", "variant"]] = [["u0", "a"], ["u0", "b"], ["u0", "a"]]
    return rows


def warehouse_with(requests: pd.DataFrame, config_path) -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse holding the requests and their units, as experiment_table.sql
    would leave them."""
    config_path.write_text(yaml.safe_dump(CONFIG))
    con = duckdb.connect()
    warehouse.ensure_schema(con)
    warehouse.sync_config(con, load_experiments(config_path))
    logs = requests.assign(
        partition_date=AS_OF,
        request_id=[f"r{i}" for i in range(len(requests))],
        ts=datetime(2026, 11, 2) + pd.to_timedelta(np.arange(len(requests)), unit="s"),
        experiment_id="exp",
        correlation_key=requests["unit_id"],
        source_file="f",
        line_number=1,
    )
    units = requests.groupby("unit_id", as_index=False).agg(
        variant=("variant", "min"), variants=("variant", "nunique"), tier=("tier", "first")
    )
    con.register("l", logs)
    con.register("u", units)
    con.execute(
        "INSERT INTO inference_logs BY NAME SELECT * EXCLUDE (tier), MAP {'tier': tier} "
        "AS attributes FROM l"
    )
    con.execute(
        "INSERT INTO experiment_units BY NAME SELECT ? AS as_of, 'exp' AS experiment_id, unit_id, "
        "variant, CASE WHEN variants = 1 THEN 1 ELSE 2 END AS n_variants, "
        "TIMESTAMP '2026-11-02' AS first_exposure, 1 AS requests, 1 AS n_keys, "
        "1 AS n_mature_keys, MAP {'tier': tier} AS attributes FROM u",
        [AS_OF],
    )
    return con


@pytest.fixture(scope="module")
def requests() -> pd.DataFrame:
    return make_requests(n_units=600, n_requests=3000, seed=11)


@pytest.fixture(scope="module")
def con(requests, tmp_path_factory) -> duckdb.DuckDBPyConnection:
    return warehouse_with(requests, tmp_path_factory.mktemp("cfg") / "experiments.yaml")


COLUMNS = {"p90_latency": "latency_ms", "median_tokens": "output_tokens"}


def cell_values(requests: pd.DataFrame, cell) -> np.ndarray:
    """The sorted values of one cell (a row with metric, variant, segment, segment_value)."""
    kept = requests[(requests["unit_id"] != "u0") & (requests["variant"] == cell.variant)]
    kept = kept.fillna({"tier": "(missing)"})
    if cell.segment == "tier":
        kept = kept[kept["tier"] == cell.segment_value]
    return np.sort(kept[COLUMNS[cell.metric]].dropna().to_numpy(dtype=float))


def expected(requests: pd.DataFrame) -> pd.DataFrame:
    """Each cell's n and order statistics, from the requests with numpy."""
    kept = requests[requests["unit_id"] != "u0"].fillna({"tier": "(missing)"})
    rows = []
    for metric, q in (("p90_latency", 0.9), ("median_tokens", 0.5)):
        column = COLUMNS[metric]
        for variant, by_variant in kept.groupby("variant"):
            groups = [("__all__", "__all__", by_variant)]
            groups += [("tier", tier, g) for tier, g in by_variant.groupby("tier")]
            for segment, value, group in groups:
                ordered = np.sort(group[column].dropna().to_numpy(dtype=float))
                n = ordered.size
                lo, hi = order_statistic_ranks(n, q, 0.05)
                est = min(max(1, int(np.ceil(n * q))), n)
                rows.append({"metric": metric, "variant": variant, "segment": segment, "segment_value": value, "n": n, "q_estimate": ordered[est - 1], "q_lo": ordered[lo - 1], "q_hi": ordered[hi - 1]})  # fmt: skip
    return pd.DataFrame(rows).sort_values(KEY).reset_index(drop=True)


def quantile_frames(con, ranks_with=None) -> pd.DataFrame:
    """Steps 1 and 2 as the metric_frames asset runs them; `ranks_with(ranks)` may replace the
    thresholds step 2 is given."""
    counts = warehouse.run(con, "quantile_counts", as_of=AS_OF)
    ranks = quantile_ranks(counts, {"exp": 0.05})
    if ranks_with is not None:
        ranks = ranks_with(ranks)
    con.register("quantile_ranks", ranks)
    try:
        frame = warehouse.run(con, "quantile_values", as_of=AS_OF)
    finally:
        con.unregister("quantile_ranks")
    return frame.sort_values(KEY).reset_index(drop=True)


def test_cells_and_order_statistics_match_numpy(con, requests):
    got = quantile_frames(con)
    want = expected(requests)
    # 2 metrics x 2 variants x (overall + 3 tiers + missing)
    assert len(got) == len(want) == 2 * 2 * 5
    pd.testing.assert_frame_equal(
        got[[*KEY, "n", "q_estimate", "q_lo", "q_hi"]], want, check_dtype=False
    )
    assert (got["kind"] == "quantile").all()


def true_value_at(requests, rank_fraction):
    """A threshold at the given fraction of each cell's sorted values (from the data itself)."""

    def apply(ranks: pd.DataFrame) -> pd.DataFrame:
        want = expected(requests).set_index(KEY)
        thresholds = []
        for row in ranks.itertuples():
            ordered = cell_values(requests, row)
            assert ordered.size == want.loc[(row.metric, row.variant, row.segment, row.segment_value), "n"]  # fmt: skip
            thresholds.append(ordered[int(rank_fraction * (ordered.size - 1))])
        return ranks.assign(threshold=thresholds)

    return apply


@pytest.mark.parametrize(
    "fraction",
    [
        pytest.param(0.0, id="threshold at the minimum: everything sorted"),
        pytest.param(0.3, id="threshold well below the wanted ranks: the tail is sorted"),
        pytest.param(0.99, id="threshold above the wanted ranks: falls back to sorting all"),
    ],
)
def test_any_threshold_gives_the_exact_order_statistics(con, requests, fraction):
    got = quantile_frames(con, true_value_at(requests, fraction))
    pd.testing.assert_frame_equal(
        got[[*KEY, "n", "q_estimate", "q_lo", "q_hi"]], expected(requests), check_dtype=False
    )


def test_threshold_just_below_the_lowest_wanted_rank(con, requests):
    """The tail starts right at the lowest wanted rank's value: still exact (ties included)."""

    def at_lowest_rank(ranks):
        fraction_by_cell = (ranks[["est_rank", "lo_rank"]].min(axis=1) - 1) / (ranks["n"] - 1)
        parts = [
            true_value_at(requests, f)(ranks.iloc[[i]])
            for i, f in enumerate(fraction_by_cell.clip(0, 1))
        ]
        return pd.concat(parts)

    got = quantile_frames(con, at_lowest_rank)
    pd.testing.assert_frame_equal(
        got[[*KEY, "n", "q_estimate", "q_lo", "q_hi"]], expected(requests), check_dtype=False
    )


def test_sampled_thresholds_sort_only_the_tail_and_stay_exact(tmp_path, monkeypatch):
    """The path large cells take: thresholds from the 1 % sample (cells of ~3k-70k values here,
    so the minimum size is lowered); most cells then sort only their tail."""
    requests = make_requests(n_units=20_000, n_requests=200_000, seed=5)
    con = warehouse_with(requests, tmp_path / "experiments.yaml")
    monkeypatch.setattr(metrics, "TAIL_MIN_N", 2_000)
    chosen = {}

    def record(ranks):
        chosen["ranks"] = ranks
        return ranks

    got = quantile_frames(con, record)
    pd.testing.assert_frame_equal(
        got[[*KEY, "n", "q_estimate", "q_lo", "q_hi"]], expected(requests), check_dtype=False
    )
    ranks = chosen["ranks"]
    assert ranks["threshold"].notna().mean() > 0.8
    tails = []
    for row in ranks[ranks["threshold"].notna()].itertuples():
        below = int((cell_values(requests, row) < row.threshold).sum())
        if below < min(row.lo_rank, row.est_rank):  # the tail holds every wanted rank
            tails.append(below / row.n)
    # Small samples (tens of values for the smallest cells) sometimes put the threshold above
    # the wanted ranks (the cell is then sorted whole, as the exact frames above show); most
    # cells sort only their tail, counting most of their values instead.
    assert len(tails) >= 0.6 * ranks["threshold"].notna().sum()
    assert min(tails) > 0.2


class TestTailThreshold:
    PROBS = (0.5, 0.8, 0.9, 0.92, 0.94)
    VALUES = (10.0, 20.0, 30.0, 32.0, 34.0)

    def test_small_cells_are_sorted_whole(self):
        assert tail_threshold(TAIL_MIN_N - 1, 950, self.PROBS, self.VALUES) is None

    def test_no_sample_sorts_whole(self):
        assert tail_threshold(TAIL_MIN_N, 95_000, self.PROBS, None) is None

    def test_largest_probability_at_least_the_margin_below_the_lowest_rank(self):
        n = 1_000_000
        # lowest wanted rank at 0.95 of n: 0.94 is not TAIL_MARGIN (0.02) below it, 0.92 is
        assert tail_threshold(n, 950_000, self.PROBS, self.VALUES) == 32.0
        assert tail_threshold(n, 500_000, self.PROBS, self.VALUES) is None
        assert tail_threshold(n, 530_000, self.PROBS, self.VALUES) == 10.0
