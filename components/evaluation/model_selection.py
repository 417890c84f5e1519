"""Label-free model selection: rank adapted models without target labels.

Scorers (all oriented so that higher is better):
- `iwv`: importance-weighted validation (Sugiyama et al. 2007): minus the loss on labelled
  source validation rows, each weighted by the density ratio p_target(x) / p_source(x)
  estimated on the raw inputs (self-normalised).
- `dev`: deep embedded validation (You et al. 2019): IWV with a control variate, and the
  density ratio estimated in the model's own feature space.
- `entropy`: minus the mean prediction entropy on target rows.
- `snd`: soft neighbourhood density (Saito et al. 2021) of the target predictions.
`agreement` reports how well each scorer's choice matches the choice made with labels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from components.models.rows import Inputs, Labelled
from components.models.training import embed, predict_proba

SCORERS: tuple[str, ...] = ("iwv", "dev", "entropy", "snd")
EPS = 1e-7


def as_classes(proba: np.ndarray) -> np.ndarray:
    """Class probabilities [n, k]: a binary model's P(positive) [n] becomes [1 - p, p]."""
    return np.c_[1 - proba, proba] if proba.ndim == 1 else proba


def row_loss(proba: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-row log loss of class probabilities against integer labels."""
    p = as_classes(proba)
    return -np.log(np.clip(p[np.arange(len(y)), np.asarray(y, dtype=np.int64)], EPS, 1.0))


def density_ratio(
    source: np.ndarray, target: np.ndarray, seed: int = 0, clip: float = 20.0
) -> np.ndarray:
    """p_target(x) / p_source(x) at each source row, from a logistic domain classifier on
    the given features, corrected for the sample sizes and clipped to [0, clip]."""
    x = np.concatenate([source, target])
    d = np.r_[np.zeros(len(source)), np.ones(len(target))]
    classifier = make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=1000, random_state=seed)
    )
    p = classifier.fit(x, d).predict_proba(source)[:, 1]
    ratio = p / np.clip(1 - p, EPS, 1.0) * len(source) / len(target)
    return np.clip(ratio, 0.0, clip)


def iwv_risk(loss: np.ndarray, weight: np.ndarray) -> float:
    """Self-normalised importance-weighted mean loss (weights rescaled to mean 1, so a
    strong shift that drives every ratio toward 0 does not make every model look perfect)."""
    return float(np.sum(weight * loss) / max(float(np.sum(weight)), EPS))


def dev_risk(loss: np.ndarray, weight: np.ndarray) -> float:
    """DEV: the weighted loss with the control variate eta = -Cov(w l, w) / Var(w)."""
    weighted = weight * loss
    var = float(np.var(weight, ddof=1)) if len(weight) > 1 else 0.0
    if var <= 0:
        return float(weighted.mean())
    eta = -float(np.cov(weighted, weight)[0, 1]) / var
    return float(weighted.mean() + eta * weight.mean() - eta)


def prediction_entropy(proba: np.ndarray) -> float:
    """Mean Shannon entropy (nats) of the predicted class distributions."""
    p = np.clip(as_classes(proba), EPS, 1.0)
    return float(-(p * np.log(p)).sum(axis=1).mean())


def soft_neighbourhood_density(proba: np.ndarray, temperature: float = 0.05) -> float:
    """SND: mean entropy of each row's softmax-normalised similarity to the other rows, with
    rows represented by their L2-normalised class probabilities. Higher = denser clusters."""
    p = as_classes(proba)
    p = p / np.clip(np.linalg.norm(p, axis=1, keepdims=True), EPS, None)
    sim = p @ p.T / temperature
    np.fill_diagonal(sim, -np.inf)
    sim -= sim.max(axis=1, keepdims=True)
    soft = np.exp(sim)
    soft /= soft.sum(axis=1, keepdims=True)
    return float(-(soft * np.log(np.clip(soft, EPS, 1.0))).sum(axis=1).mean())


def label_free_scores(
    model: nn.Module,
    source_val: Labelled,
    target_x: Inputs,
    seed: int = 0,
    max_rows: int = 2000,
) -> dict[str, float]:
    """Every scorer for one model: labelled source validation rows and unlabelled target
    inputs (at most `max_rows` of each, seeded subsample). Higher is better for all."""
    rng = np.random.default_rng(seed)
    source_val = source_val.take(_subsample(len(source_val), max_rows, rng))
    target_x = (
        Labelled(target_x, np.zeros(len(target_x)), np.ones(len(target_x)))
        .take(_subsample(len(target_x), max_rows, rng))
        .x
    )
    loss = row_loss(predict_proba(model, source_val.x), source_val.y)
    input_weight = density_ratio(_flat(source_val.x), _flat(target_x), seed)
    feature_weight = density_ratio(embed(model, source_val.x), embed(model, target_x), seed)
    target_proba = predict_proba(model, target_x)
    return {
        "iwv": -iwv_risk(loss, input_weight),
        "dev": -dev_risk(loss, feature_weight),
        "entropy": -prediction_entropy(target_proba),
        "snd": soft_neighbourhood_density(target_proba),
    }


def _subsample(n: int, limit: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(n, limit, replace=False)) if n > limit else np.arange(n)


def _flat(x: Inputs) -> np.ndarray:
    """Inputs as one float matrix: one-hot-free tabular (category codes + numbers) or pixels."""
    if isinstance(x, np.ndarray):
        return x.reshape(len(x), -1)
    return np.c_[x.cat.astype(np.float32), x.num]


def agreement(scores: pd.DataFrame, truth: pd.Series) -> pd.DataFrame:
    """Per scorer (column of `scores`, index = arm): the arm it picks, that arm's labelled
    metric (`truth`, higher = better), the best arm by labels, the regret and the Spearman
    correlation between scorer and truth over arms."""
    best = truth.idxmax()
    rows = {}
    for scorer in scores.columns:
        column = scores[scorer].dropna()
        pick = column.idxmax()
        rho = stats.spearmanr(column, truth[column.index]).statistic if len(column) > 2 else np.nan
        rows[scorer] = {
            "picked": pick,
            "picked_metric": float(truth[pick]),
            "oracle": best,
            "oracle_metric": float(truth[best]),
            "regret": float(truth[best] - truth[pick]),
            "same_choice": bool(pick == best),
            "spearman": float(rho),
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "scorer"
    return table
