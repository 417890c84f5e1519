"""Evaluation of scored test sets: metrics with bootstrap intervals, comparison tables, figures."""

from components.evaluation.metrics import (
    METRIC_NAMES,
    binary_metrics,
    bootstrap_ci,
    cumulative_gain,
    summarise_seeds,
)
from components.evaluation.plots import gain_lift_figure, roc_figure, score_histogram
from components.evaluation.report import comparison_table, to_markdown, to_text

__all__ = [
    "METRIC_NAMES",
    "binary_metrics",
    "bootstrap_ci",
    "comparison_table",
    "cumulative_gain",
    "gain_lift_figure",
    "roc_figure",
    "score_histogram",
    "summarise_seeds",
    "to_markdown",
    "to_text",
]
