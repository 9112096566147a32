"""Pure statistics over per-arm sufficient statistics: no Dagster, no I/O, usable from a notebook.

Conventions (Welch/unpooled tests, delta-method relative lift, one-sided non-inferiority, ...) are
documented in each module's docstring; `settings` holds the defaults.
"""

from .corrections import adjust_p_values, benjamini_hochberg, holm
from .frequentist import (
    ArmEstimate,
    compare_estimates,
    compare_means,
    compare_proportions,
    compare_ratios,
)
from .noninferiority import NonInferiorityResult, non_inferiority
from .power import SampleSize, achieved_power, days_remaining, required_sample_size_per_arm
from .quantile import compare_quantiles, order_statistic_ranks, quantile_stats
from .srm import SrmResult, srm_test
from .types import Comparison, QuantileStats, RatioStats, SampleStats

__all__ = [
    "ArmEstimate",
    "Comparison",
    "NonInferiorityResult",
    "QuantileStats",
    "RatioStats",
    "SampleSize",
    "SampleStats",
    "SrmResult",
    "achieved_power",
    "adjust_p_values",
    "benjamini_hochberg",
    "compare_estimates",
    "compare_means",
    "compare_proportions",
    "compare_quantiles",
    "compare_ratios",
    "days_remaining",
    "holm",
    "non_inferiority",
    "order_statistic_ranks",
    "quantile_stats",
    "required_sample_size_per_arm",
    "srm_test",
]
