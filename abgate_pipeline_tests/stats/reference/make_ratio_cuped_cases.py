"""Generate `ratio_cuped_gbstats.json`: gbstats' regression-adjusted ratio (CUPED) results.

Reference numbers for `abgate_pipeline_tests/stats/test_cuped_ratio.py`. This script is never
imported by the tests; it is kept so that the JSON can be regenerated and audited.

gbstats cannot be installed in the project venv (it pins numpy<2), and the PyPI release (0.8.0,
2024-06) predates `RegressionAdjustedRatioStatistic`, so it runs in its own venv with gbstats
installed from the GrowthBook repository at the commit recorded in the JSON:

    python3.11 -m venv /tmp/gbstats-venv
    /tmp/gbstats-venv/bin/pip install \\
        "gbstats @ git+https://github.com/growthbook/growthbook.git@8f1db4456915a8e7b7faf23d5632ca7219d2f469#subdirectory=packages/stats"
    /tmp/gbstats-venv/bin/python abgate_pipeline_tests/stats/reference/make_ratio_cuped_cases.py

(`pip install gbstats` alone gives PyPI 0.8.0, which lacks the class.) The output is
deterministic for a given numpy (seeded `default_rng`) and gbstats.

Each case simulates unit-level data (per unit: experiment-period numerator m and denominator d,
pre-period mp and dp), reduces it to the sufficient statistics of `RatioStats` (field names as
there), and records gbstats' outputs:

- `theta`: gbstats' pooled theta (`compute_theta_regression_adjusted_ratio`, via
  `create_theta_adjusted_statistics`), 0 if gbstats reverted to the unadjusted ratio.
- per arm: `mean` (gbstats' adjusted arm mean R - theta Rp, not centred), `unadjusted_mean` (R),
  `mean_pre` (Rp), `variance` (per-unit delta-method variance of R - theta Rp),
  `var_pre_theta1` and `covariance_theta1` (gbstats' `var_pre` and `covariance` with theta = 1:
  the per-unit variance P of the linearised pre ratio and *minus* its covariance C with the
  linearised post ratio; gbstats' theta is -(cov_a + cov_b) / (var_pre_a + var_pre_b)).
- `absolute` / `relative`: `TwoSidedTTest` with difference_type "absolute" / "relative" at
  alpha 0.05: expected, ci, stddev (uplift.stddev), p_value, dof (Welch), error_message.
- `unadjusted_absolute`: the same absolute test on the plain `RatioStatistic` (no CUPED).
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import scipy
from gbstats.frequentist.tests import FrequentistConfig, TwoSidedTTest
from gbstats.models.statistics import (
    ProportionStatistic,
    RatioStatistic,
    RegressionAdjustedRatioStatistic,
    SampleMeanStatistic,
)

GBSTATS_COMMIT = "8f1db4456915a8e7b7faf23d5632ca7219d2f469"
ENGINE = "gbstats@github:8f1db44 (2026-08-21)"
OUTPUT = Path(__file__).with_name("ratio_cuped_gbstats.json")
ALPHA = 0.05


# --------------------------------------------------------------------------------------------
# Unit-level data
# --------------------------------------------------------------------------------------------


def simulate_arm(
    rng: np.random.Generator,
    n: int,
    *,
    rho: float,
    lift: float,
    noise: float = 0.3,
    events: float = 3.0,
    binary_den: bool = False,
) -> dict[str, np.ndarray]:
    """One arm: per unit an activity level and a unit cost that persist from the pre-period to
    the experiment with correlation `rho` (on the log scale); the numerator is cost x count.

    `events`: mean denominator count per unit (Poisson); more events, less counting noise and a
    stronger pre/post correlation of the ratio. `binary_den`: the denominator is 0/1 (active or
    not), the numerator the unit's spend.
    """
    z_act, z_cost = rng.standard_normal((2, n))
    act_pre = np.exp(0.6 * z_act)
    cost_pre = np.exp(0.4 * z_cost)
    act = np.exp(0.6 * (rho * z_act + math.sqrt(1.0 - rho**2) * rng.standard_normal(n)))
    cost = np.exp(0.4 * (rho * z_cost + math.sqrt(1.0 - rho**2) * rng.standard_normal(n)))
    if binary_den:
        dp = (rng.random(n) < 1.0 - np.exp(-act_pre)).astype(float)
        d = (rng.random(n) < 1.0 - np.exp(-act)).astype(float)
    else:
        dp = rng.poisson(events * act_pre).astype(float)
        d = rng.poisson(events * act).astype(float)
    mp = dp * cost_pre * rng.lognormal(0.0, noise, n)
    m = lift * d * cost * rng.lognormal(0.0, noise, n)
    return {"m": m, "d": d, "mp": mp, "dp": dp}


def sufficient_stats(units: dict[str, np.ndarray]) -> dict[str, float]:
    """`RatioStats` fields (same names) from unit-level arrays."""
    m, d, mp, dp = units["m"], units["d"], units["mp"], units["dp"]
    return {
        "n": len(m),
        "num_sum": float(m.sum()),
        "num_sum_sq": float(m @ m),
        "den_sum": float(d.sum()),
        "den_sum_sq": float(d @ d),
        "cross_sum": float(m @ d),
        "pre_sum": float(mp.sum()),
        "pre_sum_sq": float(mp @ mp),
        "pre_den_sum": float(dp.sum()),
        "pre_den_sum_sq": float(dp @ dp),
        "pre_num_den_sum": float(mp @ dp),
        "pre_cross_sum": float(m @ mp),
        "den_pre_den_sum": float(d @ dp),
        "num_pre_den_sum": float(m @ dp),
        "den_pre_num_sum": float(d @ mp),
    }


# --------------------------------------------------------------------------------------------
# gbstats
# --------------------------------------------------------------------------------------------


def _base(n: int, total: float, total_sq: float, binomial: bool):
    if binomial:
        return ProportionStatistic(n=n, sum=total)
    return SampleMeanStatistic(n=n, sum=total, sum_squares=total_sq)


def gbstats_statistic(s: dict[str, float], binomial_den: bool) -> RegressionAdjustedRatioStatistic:
    """gbstats' statistic from our sums; the numerator is a count metric (SampleMeanStatistic),
    the denominator binomial (ProportionStatistic) only if `binomial_den`."""
    n = s["n"]
    return RegressionAdjustedRatioStatistic(
        n=n,
        m_statistic_post=_base(n, s["num_sum"], s["num_sum_sq"], False),
        d_statistic_post=_base(n, s["den_sum"], s["den_sum_sq"], binomial_den),
        m_statistic_pre=_base(n, s["pre_sum"], s["pre_sum_sq"], False),
        d_statistic_pre=_base(n, s["pre_den_sum"], s["pre_den_sum_sq"], binomial_den),
        m_post_m_pre_sum_of_products=s["pre_cross_sum"],
        d_post_d_pre_sum_of_products=s["den_pre_den_sum"],
        m_pre_d_pre_sum_of_products=s["pre_num_den_sum"],
        m_post_d_post_sum_of_products=s["cross_sum"],
        m_post_d_pre_sum_of_products=s["num_pre_den_sum"],
        m_pre_d_post_sum_of_products=s["den_pre_num_sum"],
        theta=None,
    )


def _test_output(test: TwoSidedTTest) -> dict[str, object]:
    result = test.compute_result()
    return {
        "expected": float(result.expected),
        "ci": [float(result.ci[0]), float(result.ci[1])],
        "stddev": float(result.uplift.stddev),
        "p_value": float(result.pValue),
        "dof": float(test.dof),
        "error_message": result.errorMessage,
    }


def _arm_output(stat) -> dict[str, float]:
    one = replace(stat, theta=1.0)
    return {
        "mean": float(stat.mean),
        "unadjusted_mean": float(stat.unadjusted_mean),
        "mean_pre": float(stat.mean_pre),
        "variance": float(stat.variance),
        "var_pre_theta1": float(one.var_pre),
        "covariance_theta1": float(one.covariance),
    }


def run_gbstats(control: dict[str, float], treatment: dict[str, float], binomial_den: bool):
    stat_a = gbstats_statistic(control, binomial_den)
    stat_b = gbstats_statistic(treatment, binomial_den)
    absolute = TwoSidedTTest(
        [(stat_a, stat_b)], FrequentistConfig(difference_type="absolute", alpha=ALPHA)
    )
    relative = TwoSidedTTest(
        [(stat_a, stat_b)], FrequentistConfig(difference_type="relative", alpha=ALPHA)
    )
    adjusted_a, adjusted_b = absolute.stat_a, absolute.stat_b
    if not isinstance(adjusted_a, RegressionAdjustedRatioStatistic):
        raise RuntimeError("gbstats reverted to the unadjusted ratio; pick another case")
    raw = [
        RatioStatistic(
            n=s.n,
            m_statistic=s.m_statistic_post,
            d_statistic=s.d_statistic_post,
            m_d_sum_of_products=s.m_post_d_post_sum_of_products,
        )
        for s in (stat_a, stat_b)
    ]
    unadjusted = TwoSidedTTest(
        [(raw[0], raw[1])], FrequentistConfig(difference_type="absolute", alpha=ALPHA)
    )
    return {
        "denominator_type": "binomial" if binomial_den else "count",
        "theta": float(adjusted_a.theta),
        "control": _arm_output(adjusted_a),
        "treatment": _arm_output(adjusted_b),
        "absolute": _test_output(absolute),
        "relative": _test_output(relative),
        "unadjusted_absolute": _test_output(unadjusted),
    }


# --------------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------------

# (case_id, description, seed, n_control, n_treatment, simulate_arm keyword arguments, with the
# treatment's lift and noise given separately)
SIMULATED = [
    ("R01_5050_n2000_strong", "50/50, 2000 per arm, strong pre/post correlation, +3%",
     101, 2000, 2000, {"rho": 0.95, "noise": 0.1, "events": 10.0}, {"lift": 1.03}),
    ("R02_5050_n500_moderate", "50/50, 500 per arm, moderate correlation, +5%",
     102, 500, 500, {"rho": 0.6}, {"lift": 1.05}),
    ("R03_5050_n20000_weak", "50/50, 20000 per arm, weak correlation, +1%",
     103, 20000, 20000, {"rho": 0.2, "noise": 0.6}, {"lift": 1.01}),
    ("R04_9010_n20000_strong", "90/10 (18000/2000), strong correlation, +2%, noisier treatment",
     104, 18000, 2000, {"rho": 0.95, "noise": 0.1, "events": 10.0},
     {"lift": 1.02, "noise": 0.3}),
    ("R05_9010_n5000_moderate", "90/10 (4500/500), moderate correlation, +4%",
     105, 4500, 500, {"rho": 0.8, "noise": 0.2}, {"lift": 1.04}),
    ("R06_1090_n5000_strong", "10/90 (500/4500): small control, strong correlation, +3%",
     106, 500, 4500, {"rho": 0.9, "noise": 0.1, "events": 10.0}, {"lift": 1.03}),
    ("R07_5050_negative_lift", "50/50, 3000 per arm, strong correlation, -4% (negative lift)",
     107, 3000, 3000, {"rho": 0.9, "noise": 0.1}, {"lift": 0.96}),
    ("R08_5050_binary_den", "50/50, 4000 per arm, 0/1 denominator (active user), spend per "
     "active user, +5%", 108, 4000, 4000, {"rho": 0.9, "noise": 0.1, "binary_den": True},
     {"lift": 1.05}),
    ("R09_5050_small_n30", "50/50, 30 per arm, strong correlation, +10%",
     109, 30, 30, {"rho": 0.95, "noise": 0.1, "events": 10.0}, {"lift": 1.10}),
]  # fmt: skip

# The inputs of gbstats' own unit test `test_two_sided_ttest_runs_ratio_ra`
# (packages/stats/tests/frequentist/test_tests.py), with the rounded values it asserts.
GBSTATS_UNIT_TEST = {
    "control": {
        "n": 100,
        "num_sum": 485.112236689623,
        "num_sum_sq": 2715.484666118136,
        "den_sum": 679.9093275844917,
        "den_sum_sq": 4939.424001640236,
        "cross_sum": 3602.146836776702,
        "pre_sum": 192.59138069991536,
        "pre_sum_sq": 460.076026390857,
        "pre_den_sum": 290.1398399750233,
        "pre_den_sum_sq": 920.9461385038898,
        "pre_num_den_sum": 634.239482353647,
        "pre_cross_sum": 1113.6215759318352,
        "den_pre_den_sum": 2130.9404074446747,
        "num_pre_den_sum": 1559.2878434944676,
        "den_pre_num_sum": 1460.3181079276983,
    },
    "treatment": {
        "n": 100,
        "num_sum": 514.7757826608777,
        "num_sum_sq": 2994.897482705013,
        "den_sum": 705.4090874383759,
        "den_sum_sq": 5291.36604146392,
        "cross_sum": 3918.1561431600717,
        "pre_sum": 206.94157227402536,
        "pre_sum_sq": 514.2903702246757,
        "pre_den_sum": 302.54389139107326,
        "pre_den_sum_sq": 994.4506208125663,
        "pre_num_den_sum": 698.4173425817908,
        "pre_cross_sum": 1237.0953021125997,
        "den_pre_den_sum": 2292.081739775257,
        "num_pre_den_sum": 1701.0287270040265,
        "den_pre_num_sum": 1604.0759503266522,
    },
    "asserted_by_gbstats_rounded": {
        "relative": {
            "expected": -0.0007,
            "ci": [-0.00841, 0.00700],
            "stddev": 0.00391,
            "p_value": 0.85771,
        }
    },
}


def build_cases() -> list[dict[str, object]]:
    cases: list[dict[str, object]] = []
    for case_id, description, seed, n_c, n_t, common, treated in SIMULATED:
        rng = np.random.default_rng(seed)
        control = sufficient_stats(simulate_arm(rng, n_c, lift=1.0, **common))
        treatment = sufficient_stats(simulate_arm(rng, n_t, **{**common, **treated}))
        engines = {"count": run_gbstats(control, treatment, binomial_den=False)}
        if common.get("binary_den"):
            engines["binomial"] = run_gbstats(control, treatment, binomial_den=True)
        cases.append(
            {
                "case_id": case_id,
                "description": description,
                "seed": seed,
                "inputs": {"control": control, "treatment": treatment},
                "gbstats": engines,
            }
        )
    unit = GBSTATS_UNIT_TEST
    cases.append(
        {
            "case_id": "R10_gbstats_unit_test",
            "description": "inputs of gbstats' test_two_sided_ttest_runs_ratio_ra (n=100 per arm)",
            "seed": None,
            "inputs": {"control": unit["control"], "treatment": unit["treatment"]},
            "gbstats": {"count": run_gbstats(unit["control"], unit["treatment"], False)},
            "asserted_by_gbstats_rounded": unit["asserted_by_gbstats_rounded"],
        }
    )
    return cases


def main() -> None:
    meta = {
        "title": "gbstats RegressionAdjustedRatioStatistic (CUPED for ratio metrics) reference",
        "engine": ENGINE,
        "gbstats": {
            "repo": "growthbook/growthbook",
            "path": "packages/stats",
            "commit": GBSTATS_COMMIT,
            "installed_version_string": importlib.metadata.version("gbstats"),
            "note": "pyproject still says 0.8.0, but PyPI 0.8.0 has no "
            "RegressionAdjustedRatioStatistic; this is the repository code at the commit",
        },
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "alpha": ALPHA,
        "generator": "abgate_pipeline_tests/stats/reference/make_ratio_cuped_cases.py",
        "conventions": "inputs use RatioStats field names; gbstats outputs as described in the "
        "generator's docstring; `count` = every column a SampleMeanStatistic (ddof=1), "
        "`binomial` = denominator columns ProportionStatistic (ddof=0)",
    }
    OUTPUT.write_text(json.dumps({"meta": meta, "cases": build_cases()}, indent=1) + "\n")
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
