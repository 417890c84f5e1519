"""Figures comparing arms on one test set: ROC curves, cumulative gain and lift.

Figures are built without pyplot (no global state, no display needed) and are drawn with
Agg when saved, so callers can pass them straight to a tracker's `log_figure`.
"""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import roc_curve

from components.evaluation.metrics import binary_metrics, check_inputs, cumulative_gain

DECILES: tuple[int, ...] = tuple(range(10, 101, 10))


def new_figure(n_panels: int) -> tuple[Figure, list]:
    """A blank Agg-backed figure with `n_panels` side-by-side axes."""
    fig = Figure(figsize=(5.5 * n_panels, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, n_panels, squeeze=False)[0]
    return fig, list(axes)


def roc_figure(y_true: np.ndarray, scores: dict[str, np.ndarray]) -> Figure:
    """ROC curve per arm, AUC in the legend, and the chance diagonal."""
    fig, (ax,) = new_figure(1)
    for arm, score in scores.items():
        y, s = check_inputs(y_true, score)
        fpr, tpr, _ = roc_curve(y, s)
        ax.plot(fpr, tpr, label=f"{arm} (AUC {binary_metrics(y, s)['auc']:.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="random")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), aspect="equal")
    ax.legend(loc="lower right", fontsize="small")
    return fig


def gain_lift_figure(y_true: np.ndarray, scores: dict[str, np.ndarray]) -> Figure:
    """Cumulative gain (left) and cumulative lift (right) by population decile, per arm."""
    fig, (gain_ax, lift_ax) = new_figure(2)
    for arm, score in scores.items():
        population, gain = cumulative_gain(y_true, score, DECILES)
        line = gain_ax.plot(np.r_[0.0, population], np.r_[0.0, gain], marker="o", label=arm)
        lift_ax.plot(
            population, gain / population, marker="o", label=arm, color=line[0].get_color()
        )
    gain_ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="random")
    lift_ax.plot([0.1, 1], [1, 1], linestyle="--", color="grey", label="random")
    gain_ax.set(xlabel="share of population (by score)", ylabel="share of positives", title="Gain")
    lift_ax.set(xlabel="share of population (by score)", ylabel="cumulative lift", title="Lift")
    for ax in (gain_ax, lift_ax):
        ax.legend(loc="best", fontsize="small")
        ax.grid(alpha=0.3)
    return fig


def score_histogram(scores: np.ndarray, selected: np.ndarray) -> Figure:
    """A selector's pool scores, kept and dropped rows stacked."""
    fig, (ax,) = new_figure(1)
    bins = np.linspace(float(scores.min()), float(scores.max()) + 1e-9, 40)
    ax.hist(
        [scores[selected], scores[~selected]],
        bins=bins,
        stacked=True,
        label=["selected", "not selected"],
    )
    ax.set(
        xlabel="selector score (higher = more target-like)", ylabel="pool rows", title="Selection"
    )
    ax.legend(fontsize="small")
    return fig
