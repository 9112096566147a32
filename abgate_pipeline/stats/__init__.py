"""Pure statistics over per-arm sufficient statistics: no Dagster, no I/O, usable from a notebook.

Conventions (Welch/unpooled tests, delta-method relative lift, one-sided non-inferiority, ...) are
documented in each module's docstring; `settings` holds the defaults.
"""

from .bayes import BayesResult, chance_to_beat
from .corrections import adjust_p_values, benjamini_hochberg, holm
from .cuped import (
    CupedResult,
    compare_means_cuped,
    covariate_varies,
    cuped_adjust,
    cuped_variance_reduction,
)
from .cuped_ratio import (
    CupedRatioArm,
    CupedRatioResult,
    compare_ratios_cuped,
    cuped_adjust_ratio,
    ratio_covariate_active,
)
from .frequentist import (
    ArmEstimate,
    compare_estimates,
    compare_means,
    compare_proportions,
    compare_ratios,
    unit_variance,
)
from .noninferiority import NonInferiorityResult, non_inferiority
from .power import SampleSize, achieved_power, days_remaining, required_sample_size_per_arm
from .quantile import compare_quantiles, order_statistic_ranks, quantile_stats
from .sequential import Look, SequentialResult, sequential_test
from .srm import SrmResult, srm_test
from .types import Comparison, QuantileStats, RatioStats, SampleStats

__all__ = [
    "ArmEstimate",
    "BayesResult",
    "Comparison",
    "CupedRatioArm",
    "CupedRatioResult",
    "CupedResult",
    "Look",
    "NonInferiorityResult",
    "QuantileStats",
    "RatioStats",
    "SampleSize",
    "SampleStats",
    "SequentialResult",
    "SrmResult",
    "achieved_power",
    "adjust_p_values",
    "benjamini_hochberg",
    "chance_to_beat",
    "compare_estimates",
    "compare_means",
    "compare_means_cuped",
    "compare_proportions",
    "compare_quantiles",
    "compare_ratios",
    "compare_ratios_cuped",
    "covariate_varies",
    "cuped_adjust",
    "cuped_adjust_ratio",
    "cuped_variance_reduction",
    "days_remaining",
    "holm",
    "non_inferiority",
    "order_statistic_ranks",
    "quantile_stats",
    "ratio_covariate_active",
    "required_sample_size_per_arm",
    "sequential_test",
    "srm_test",
    "unit_variance",
]
