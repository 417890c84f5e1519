"""Selection-quality reports: how well an order matches the hidden truth, which true
positions got selected, score histograms per true-position bin, and a 2-D PCA view of
source, pool, selected and target features. Pure functions returning tables and figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy.stats import spearmanr
from sklearn.decomposition import PCA

from components.evaluation.plots import new_figure


def with_truth(table: pd.DataFrame, truth: pd.Series, bins: int = 5) -> pd.DataFrame:
    """The Selection table plus each row's true position and its quantile bin (by row_id)."""
    out = table.assign(truth=table["row_id"].map(truth).to_numpy(dtype=float))
    out["truth_bin"] = pd.qcut(out["truth"], q=bins, duplicates="drop")
    return out


def order_spearman(table: pd.DataFrame) -> float:
    """Rank correlation of the selector's order with the true position (1 = perfect)."""
    return float(spearmanr(table["order"], table["truth"]).statistic)


def selected_by_truth(table: pd.DataFrame) -> pd.DataFrame:
    """Per true-position bin: rows, selected share and mean score."""
    grouped = table.groupby("truth_bin", observed=True)
    return (
        pd.DataFrame(
            {
                "rows": grouped.size(),
                "selected_fraction": grouped["selected"].mean(),
                "mean_score": grouped["score"].mean(),
            }
        )
        .reset_index()
        .assign(truth_bin=lambda d: d["truth_bin"].astype(str))
    )


def score_histograms(table: pd.DataFrame) -> Figure:
    """Pool score histograms, one per true-position bin (overlaid)."""
    fig, (ax,) = new_figure(1)
    bins = np.linspace(table["score"].min(), table["score"].max() + 1e-9, 40)
    for name, rows in table.groupby("truth_bin", observed=True):
        ax.hist(rows["score"], bins=bins, histtype="step", label=f"truth {name}")
    ax.set(xlabel="selector score (higher = more target-like)", ylabel="pool rows")
    ax.set_title("Scores by true position")
    ax.legend(fontsize="small")
    return fig


def embedding_figure(
    source: np.ndarray,
    pool: np.ndarray,
    selected: np.ndarray,
    target: np.ndarray,
    title: str,
    max_points: int = 2000,
    seed: int = 0,
) -> Figure:
    """Source, pool (unselected / selected) and target features on the first two principal
    components of source + target."""
    rng = np.random.default_rng(seed)

    def sample(x: np.ndarray) -> np.ndarray:
        return x[rng.choice(len(x), min(max_points, len(x)), replace=False)] if len(x) else x

    pca = PCA(n_components=2, random_state=seed).fit(np.concatenate([source, target]))
    fig, (ax,) = new_figure(1)
    for name, x, style in [
        ("source", source, {"c": "tab:blue"}),
        ("pool", pool[~selected], {"c": "lightgrey"}),
        ("selected", pool[selected], {"c": "tab:orange"}),
        ("target", target, {"c": "tab:red"}),
    ]:
        if len(x):
            z = pca.transform(sample(x))
            ax.scatter(z[:, 0], z[:, 1], s=4, alpha=0.5, label=name, **style)
    ax.set(xlabel="PC 1", ylabel="PC 2", title=title)
    ax.legend(fontsize="small", markerscale=3)
    return fig
