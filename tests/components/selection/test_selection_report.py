"""Selection-quality report: rank correlation with the truth, selected share by true bin,
and the figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from components.selection import SelectionSpec, report
from components.selection.base import from_scores


def _table(noise: float) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    truth = pd.Series(rng.uniform(0, 60, 500), index=np.arange(500) + 100)
    scores = truth.to_numpy() + noise * rng.normal(size=500)
    table = from_scores(truth.index.to_numpy(), scores, SelectionSpec(fraction=0.4)).table
    return table, truth


def test_spearman_and_selected_share_follow_the_truth():
    exact, truth = _table(0.0)
    scored = report.with_truth(exact, truth)
    assert report.order_spearman(scored) > 0.999
    shares = report.selected_by_truth(scored)["selected_fraction"].tolist()
    assert shares[0] == 0.0 and shares[-1] == 1.0 and shares == sorted(shares)
    noisy = report.with_truth(_table(1000.0)[0], truth)
    assert abs(report.order_spearman(noisy)) < 0.2


def test_figures_are_built():
    table, truth = _table(5.0)
    assert isinstance(report.score_histograms(report.with_truth(table, truth)), Figure)
    rng = np.random.default_rng(1)
    pool = rng.normal(size=(300, 6))
    fig = report.embedding_figure(
        rng.normal(size=(100, 6)), pool, pool[:, 0] > 0, rng.normal(1, 1, (100, 6)), "t"
    )
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == [
        "source",
        "pool",
        "selected",
        "target",
    ]
