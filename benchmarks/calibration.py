"""Calibration benchmark: error rates and power of abgate's sequential tests, and CUPED's gain.

Simulates the daily schedule of DESIGN.md §4: a binary metric with p = 0.10, 1,000 units per arm
per day, one look per day for 14 days, planned sample = the 14th look (planned_n = 28,000 units
in total). A/A experiments give false-positive rates, A/B experiments with a +10 % relative lift
give power. The test at each look is the unpooled z-test of the absolute difference (the gate's
significance test, `frequentist.compare_proportions`, whose Welch dof is ~28,000 here).

Decisions are vectorised over simulations with the boundaries and p-values of
`abgate_pipeline.stats.sequential` (the same functions `sequential_test` uses); the first
`--check-sims` simulations are also run through `sequential_test` itself and must agree.
Every rate is printed with its Monte-Carlo standard error.

Run from the repository root:  .venv/bin/python benchmarks/calibration.py --sims 20000
(--sims 2000 is quicker, but then a calibrated 5 % rate exceeds the 0.055 ceiling 16 % of the
time by Monte-Carlo noise alone.)
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass

import numpy as np

from abgate_pipeline.stats.cuped import compare_means_cuped, cuped_adjust
from abgate_pipeline.stats.frequentist import compare_means
from abgate_pipeline.stats.power import achieved_power
from abgate_pipeline.stats.sequential import (
    DEFAULT_TUNING_N,
    Look,
    confidence_sequence_p_value,
    sequential_test,
    spending_boundaries,
)
from abgate_pipeline.stats.types import SampleStats

ALPHA = 0.05
Z_FIXED = 1.959963984540054  # z_{0.975}


@dataclass(frozen=True)
class Design:
    days: int
    per_day: int
    p: float
    lift: float

    @property
    def planned_n(self) -> float:
        return 2.0 * self.days * self.per_day


@dataclass(frozen=True)
class Paths:
    """Cumulative looks of `sims` experiments: n (total units) per look, estimate and se."""

    n: np.ndarray  # (looks,)
    estimate: np.ndarray  # (sims, looks)
    std_err: np.ndarray  # (sims, looks)

    @property
    def z(self) -> np.ndarray:
        return self.estimate / self.std_err


@dataclass(frozen=True)
class Row:
    quantity: str
    value: float
    mcse: float
    target: str
    ok: bool | None


def simulate_paths(rng: np.random.Generator, sims: int, days: int, design: Design, lift: float):
    """Daily binomial counts per arm, accumulated; the absolute difference and its unpooled se."""
    rates = np.array([design.p, design.p * (1.0 + lift)])
    daily = rng.binomial(design.per_day, rates, size=(sims, days, 2))
    per_arm = design.per_day * np.arange(1, days + 1)
    p_hat = daily.cumsum(axis=1) / per_arm[None, :, None]
    variance = (p_hat * (1.0 - p_hat)).sum(axis=2) / per_arm[None, :]
    return Paths(2.0 * per_arm, p_hat[..., 1] - p_hat[..., 0], np.sqrt(variance))


def spending_rejects(paths: Paths, design: Design, spending: str) -> np.ndarray:
    """Alpha spending over the planned horizon: any |z_k| >= c_k among the looks given."""
    bounds = np.array(spending_boundaries(paths.n / design.planned_n, spending=spending))
    return (np.abs(paths.z) >= bounds).any(axis=1)


def cs_rejects(paths: Paths, tuning_n: float) -> np.ndarray:
    """Always-valid confidence sequence: any look with p < alpha."""
    p = confidence_sequence_p_value(paths.n, paths.z, alpha=ALPHA, tuning_n=tuning_n)
    return (p < ALPHA).any(axis=1)


def fallback_rejects(paths: Paths, design: Design) -> np.ndarray:
    """OBF spending up to the horizon, then the CS (tuned at planned_n) on later looks."""
    horizon = int(np.searchsorted(paths.n, design.planned_n)) + 1
    before = Paths(paths.n[:horizon], paths.estimate[:, :horizon], paths.std_err[:, :horizon])
    after = Paths(paths.n[horizon:], paths.estimate[:, horizon:], paths.std_err[:, horizon:])
    return spending_rejects(before, design, "obf") | cs_rejects(after, design.planned_n)


def library_decisions(paths: Paths, sims: int, design: Design, **kwargs) -> np.ndarray:
    """`sequential_test` on the first `sims` paths, all looks, as the pipeline would call it."""
    out = []
    for i in range(sims):
        looks = [
            Look(float(n), float(e), float(s))
            for n, e, s in zip(paths.n, paths.estimate[i], paths.std_err[i], strict=True)
        ]
        out.append(sequential_test(looks, planned_n=design.planned_n, **kwargs).rejected)
    return np.array(out)


def rate(hits: np.ndarray) -> tuple[float, float]:
    """Proportion and its Monte-Carlo standard error sqrt(r(1-r)/S)."""
    r = float(np.mean(hits))
    return r, math.sqrt(r * (1.0 - r) / hits.size)


def ratio(num: np.ndarray, den: np.ndarray) -> tuple[float, float]:
    """Ratio of two rates from the same simulations, delta-method MC standard error."""
    a, b, s = float(np.mean(num)), float(np.mean(den)), num.size
    both = float(np.mean(num & den))
    var = (a * (1 - a) / a**2 + b * (1 - b) / b**2 - 2 * (both - a * b) / (a * b)) / s
    return a / b, (a / b) * math.sqrt(max(var, 0.0))


def error_rate_rows(aa: Paths, aa_long: Paths, design: Design) -> list[Row]:
    fixed = np.abs(aa.z) >= Z_FIXED
    tuning = design.planned_n
    rows = [
        ("fixed-horizon z-test, peeked daily (any of 14 looks)", fixed.any(axis=1), "~0.20", None),
        ("fixed-horizon z-test, final look only", fixed[:, -1], "~0.05", None),
        ("alpha spending, O'Brien-Fleming type (default)", spending_rejects(aa, design, "obf")),
        ("alpha spending, alpha*t^2", spending_rejects(aa, design, "power")),
        (f"confidence sequence, N* = planned n = {tuning:,.0f}", cs_rejects(aa, tuning)),
        (f"confidence sequence, N* = {DEFAULT_TUNING_N:,.0f} (GrowthBook)", cs_rejects(aa, 5e3)),
        (
            f"OBF to the horizon, then CS fallback for {aa_long.n.size - design.days} more days",
            fallback_rejects(aa_long, design),
        ),
    ]
    out = []
    for label, hits, *target in rows:
        value, mcse = rate(hits)
        target, ok = target or _ceiling(value, mcse)
        out.append(Row(f"A/A false positives: {label}", value, mcse, target, ok))
    return out


def _ceiling(value: float, mcse: float) -> tuple[str, bool | None]:
    """The 0.055 ceiling; a miss within 2 MC s.e. of alpha is reported as noise, not a failure."""
    if value <= 0.055:
        return "<= 0.055", True
    if value - 2.0 * mcse <= ALPHA:
        return "<= 0.055 (missed, but within 2 MC s.e. of 0.05: rerun with more --sims)", None
    return "<= 0.055", False


def power_rows(ab: Paths, design: Design) -> list[Row]:
    fixed = np.abs(ab.z[:, -1]) >= Z_FIXED
    fixed_power, fixed_mcse = rate(fixed)
    per_arm = design.days * design.per_day
    analytic = achieved_power(
        per_arm, per_arm, kind="proportion", baseline=design.p, mde=design.lift
    )
    rows = [
        Row("power: fixed-horizon z-test at the planned n", fixed_power, fixed_mcse, "", None),
        Row(
            "power: analytic (stats.power.achieved_power) minus simulated",
            analytic - fixed_power,
            fixed_mcse,
            "abs(diff) <= 0.02",
            abs(analytic - fixed_power) <= 0.02,
        ),
    ]
    methods = [
        ("alpha spending OBF (default)", spending_rejects(ab, design, "obf"), 0.95),
        ("alpha spending alpha*t^2", spending_rejects(ab, design, "power"), None),
        ("confidence sequence, N* = planned n", cs_rejects(ab, design.planned_n), None),
        ("confidence sequence, N* = 5,000", cs_rejects(ab, DEFAULT_TUNING_N), None),
    ]
    for label, hits, floor in methods:
        value, mcse = rate(hits)
        rows.append(Row(f"power by the horizon: {label}", value, mcse, "", None))
        rel, rel_mcse = ratio(hits, fixed)
        target = f">= {floor}" if floor else ""
        rows.append(
            Row(
                "  ... as a fraction of fixed-horizon power",
                rel,
                rel_mcse,
                target,
                rel >= floor if floor else None,
            )
        )
    return rows


def library_check_row(aa: Paths, aa_long: Paths, ab: Paths, design: Design, sims: int) -> Row:
    """Vectorised decisions vs `sequential_test` on the same paths (must agree exactly)."""
    sims = min(sims, aa.z.shape[0])
    checks = [
        (library_decisions(aa, sims, design), spending_rejects(aa, design, "obf")[:sims]),
        (
            library_decisions(ab, sims, design, spending="power"),
            spending_rejects(ab, design, "power")[:sims],
        ),
        (
            library_decisions(ab, sims, design, method="confidence_sequence"),
            cs_rejects(ab, design.planned_n)[:sims],
        ),
        (library_decisions(aa_long, sims, design), fallback_rejects(aa_long, design)[:sims]),
    ]
    agree = sum(int((lib == vec).sum()) for lib, vec in checks)
    total = sims * len(checks)
    return Row(
        f"sequential_test() agrees with the vectorised decisions ({total} calls)",
        agree / total,
        0.0,
        "== 1",
        agree == total,
    )


def cuped_rows(rng: np.random.Generator, sims: int) -> list[Row]:
    """A/A experiments with a pre-period covariate: estimated and realised variance reduction."""
    rows = []
    for label, draw, rho2 in (
        ("normal metric, corr(pre, post) = 0.6", _draw_normal, 0.36),
        ("binary metric, binary pre-period", _draw_binary, _BINARY_RHO2),
    ):
        raw, adjusted, reductions, fp = [], [], [], []
        for _ in range(sims):
            control, treatment = (_sample_stats(*draw(rng, 1000)) for _ in range(2))
            reductions.append(cuped_adjust(control, treatment).variance_reduction)
            comparison = compare_means_cuped(control, treatment)
            adjusted.append(comparison.abs_diff)
            raw.append(compare_means(control, treatment).abs_diff)
            fp.append(comparison.p_value < ALPHA)
        estimated = float(np.mean(reductions))
        realised, realised_mcse = _variance_ratio(np.array(adjusted), np.array(raw), rng)
        rows += [
            Row(
                f"CUPED {label}: mean estimated reduction / rho^2 (rho^2 = {rho2:.3f})",
                estimated / rho2,
                float(np.std(reductions)) / math.sqrt(sims) / rho2,
                "1 +- 0.05",
                abs(estimated / rho2 - 1) <= 0.05,
            ),
            Row(
                f"CUPED {label}: realised Var(adjusted)/Var(raw) / (1 - rho^2)",
                realised / (1 - rho2),
                realised_mcse / (1 - rho2),
                "1 +- 0.05",
                abs(realised / (1 - rho2) - 1) <= 0.05,
            ),
            Row(f"CUPED {label}: A/A false positives", *rate(np.array(fp)), "~0.05", None),
        ]
    return rows


# corr^2 of x ~ Bernoulli(0.2), y | x ~ Bernoulli(0.4 if x else 0.05): cov 0.056, var 0.16, 0.1056
_BINARY_RHO2 = 0.056**2 / (0.16 * 0.12 * 0.88)


def _draw_normal(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(size=n)
    return 5.0 + 2.0 * (0.6 * x + 0.8 * rng.normal(size=n)), 3.0 + x


def _draw_binary(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    x = (rng.random(n) < 0.2).astype(float)
    return (rng.random(n) < np.where(x == 1, 0.4, 0.05)).astype(float), x


def _sample_stats(y: np.ndarray, x: np.ndarray) -> SampleStats:
    return SampleStats(y.size, y.sum(), y @ y, x.sum(), x @ x, x @ y)


def _variance_ratio(adjusted: np.ndarray, raw: np.ndarray, rng: np.random.Generator):
    """Var(adjusted)/Var(raw) across simulations, with a bootstrap standard error."""
    boot = rng.integers(0, raw.size, size=(200, raw.size))
    draws = adjusted[boot].var(axis=1) / raw[boot].var(axis=1)
    return float(adjusted.var() / raw.var()), float(draws.std())


def format_table(rows: list[Row]) -> str:
    lines = ["| quantity | value | MC s.e. | target | ok |", "|---|---|---|---|---|"]
    for row in rows:
        ok = "" if row.ok is None else ("yes" if row.ok else "**NO**")
        lines.append(f"| {row.quantity} | {row.value:.4f} | {row.mcse:.4f} | {row.target} | {ok} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sims", type=int, default=20000, help="simulated experiments per scenario"
    )
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--days", type=int, default=14, help="daily looks up to the horizon")
    parser.add_argument("--extra-days", type=int, default=7, help="looks past the horizon")
    parser.add_argument("--per-day", type=int, default=1000, help="units per arm per day")
    parser.add_argument("--p", type=float, default=0.10, help="control conversion rate")
    parser.add_argument("--lift", type=float, default=0.10, help="true relative lift (power)")
    parser.add_argument("--check-sims", type=int, default=200, help="sims re-run via the API")
    parser.add_argument("--cuped-sims", type=int, default=5000)
    args = parser.parse_args()

    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    design = Design(args.days, args.per_day, args.p, args.lift)
    aa_long = simulate_paths(rng, args.sims, args.days + args.extra_days, design, lift=0.0)
    aa = Paths(
        aa_long.n[: args.days], aa_long.estimate[:, : args.days], aa_long.std_err[:, : args.days]
    )
    ab = simulate_paths(rng, args.sims, args.days, design, lift=args.lift)

    rows = error_rate_rows(aa, aa_long, design) + power_rows(ab, design)
    rows.append(library_check_row(aa, aa_long, ab, design, args.check_sims))
    rows += cuped_rows(rng, args.cuped_sims)

    print(
        f"{args.sims} simulations per scenario, seed {args.seed}; {args.days} daily looks, "
        f"{args.per_day} units/arm/day, p = {args.p}, lift = {args.lift:+.0%} (power), "
        f"alpha = {ALPHA}, planned_n = {design.planned_n:,.0f}; CUPED: {args.cuped_sims} A/A "
        f"experiments of 1,000 units/arm\n"
    )
    print(format_table(rows))
    five_percent_mcse = math.sqrt(ALPHA * (1 - ALPHA) / args.sims)
    print(
        f"\nA calibrated 5 % rate has MC s.e. {five_percent_mcse:.4f} at {args.sims} sims: the "
        f"0.055 ceiling is {(0.055 - ALPHA) / five_percent_mcse:.1f} s.e. above it."
    )
    print(f"\n{time.perf_counter() - started:.0f} s")
    failed = [row.quantity for row in rows if row.ok is False]
    if failed:
        raise SystemExit(f"out of target: {failed}")


if __name__ == "__main__":
    main()
