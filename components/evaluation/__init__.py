"""Evaluation of scored test sets: metrics with bootstrap intervals, comparison tables, figures."""

from components.lazy import exports

# Each name loads its submodule on first use (components.lazy).
__getattr__ = exports(
    __name__,
    {
        "METRIC_NAMES": "metrics",
        "binary_metrics": "metrics",
        "bootstrap_ci": "metrics",
        "cumulative_gain": "metrics",
        "summarise_seeds": "metrics",
        "gain_lift_figure": "plots",
        "roc_figure": "plots",
        "score_histogram": "plots",
        "comparison_table": "report",
        "to_markdown": "report",
        "to_text": "report",
    },
)
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
