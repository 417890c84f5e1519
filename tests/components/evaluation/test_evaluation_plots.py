"""Tests for the ROC and gain/lift figures."""

import io

import numpy as np
from matplotlib.figure import Figure

from components.evaluation import gain_lift_figure, roc_figure


def _arms() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Shared labels and three arms of increasing quality."""
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.3).astype(int)
    scores = {
        name: 1 / (1 + np.exp(-(rng.normal(size=400) + strength * y)))
        for name, strength in [("target_only", 0.5), ("pooled", 1.0), ("transfer", 2.0)]
    }
    return y, scores


def test_roc_figure_one_curve_per_arm_plus_chance():
    y, scores = _arms()
    fig = roc_figure(y, scores)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert len(ax.lines) == len(scores) + 1
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith("target_only (AUC 0.")


def test_gain_lift_figure_two_panels():
    y, scores = _arms()
    fig = gain_lift_figure(y, scores)
    assert len(fig.axes) == 2
    for ax in fig.axes:
        assert len(ax.lines) == len(scores) + 1
    gain_ax, lift_ax = fig.axes
    x, g = gain_ax.lines[0].get_data()
    assert x[0] == 0.0 and x[-1] == 1.0 and g[-1] == 1.0
    assert lift_ax.lines[0].get_ydata()[-1] == 1.0  # whole population: lift 1


def test_figures_render_to_png():
    y, scores = _arms()
    buf = io.BytesIO()
    gain_lift_figure(y, scores).savefig(buf, format="png")
    assert buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
