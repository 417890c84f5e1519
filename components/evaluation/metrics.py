"""Scores for a binary classifier on a test set: ranking, calibration and targeting metrics.

Point estimates and bootstrap intervals share one weighted kernel, so they always agree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from components.errors import StepstoneError

METRIC_NAMES: tuple[str, ...] = (
    "auc",
    "pr_auc",
    "log_loss",
    "lift_top10",
    "response_top10",
    "lift_top20",
    "response_top20",
    "base_rate",
)
TOP_PERCENTS: tuple[int, ...] = (10, 20)
PROB_CLIP = 1e-7
# Bootstrap resamples are processed in small cache-friendly chunks (resamples x rows cells).
_CHUNK_CELLS = 1 << 15
_MIN_CHUNK = 8


@dataclass(frozen=True)
class _Ranked:
    """Test rows sorted by score, highest first, with equal scores kept in input order."""

    order: np.ndarray  # ranked position -> original row index
    y: np.ndarray  # labels (float 0/1) in ranked order
    loss: np.ndarray  # per-row log loss in ranked order
    group_ends: np.ndarray  # last ranked position of each run of equal scores


def check_inputs(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return labels as int 0/1 and scores as float64; raise if they are not a usable pair."""
    y = np.asarray(y_true).ravel()
    s = np.asarray(y_score, dtype=np.float64).ravel()
    if len(y) != len(s) or len(y) == 0:
        raise ValueError(
            f"y_true and y_score need the same non-zero length, got {len(y)} and {len(s)}"
        )
    if not np.isin(y, [0, 1]).all():
        raise ValueError("y_true must contain only 0/1 (or False/True)")
    if not np.isfinite(s).all() or s.min() < 0.0 or s.max() > 1.0:
        raise ValueError("y_score must be finite probabilities in [0, 1]")
    y = y.astype(np.int64)
    if y.min() == y.max():
        raise StepstoneError(
            f"the test labels are all {y[0]}; AUC and lift need both classes. "
            "Use a larger or stratified test split."
        )
    return y, s


def top_k_count(n_rows: int, percent: float) -> int:
    """Number of rows in the top `percent`% of `n_rows` (rounded up, at least one)."""
    return max(1, min(n_rows, math.ceil(n_rows * percent / 100 - 1e-9)))


def cumulative_gain(
    y_true: np.ndarray, y_score: np.ndarray, percents: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """Per top `percent`% by score: the share of rows taken and the share of all positives in them.

    Lift is the second divided by the first; ties keep input order, as in `binary_metrics`.
    """
    y, s = check_inputs(y_true, y_score)
    hits = np.cumsum(y[np.argsort(-s, kind="stable")])
    k = np.array([top_k_count(len(y), p) for p in percents], dtype=np.int64)
    return k / len(y), hits[k - 1] / hits[-1]


def _rank(y: np.ndarray, s: np.ndarray) -> _Ranked:
    """Sort rows by descending score and mark where each run of tied scores starts."""
    order = np.argsort(-s, kind="stable")
    s_sorted = s[order]
    p = np.clip(s_sorted, PROB_CLIP, 1 - PROB_CLIP)
    y_sorted = y[order].astype(np.float64)
    loss = -(y_sorted * np.log(p) + (1 - y_sorted) * np.log1p(-p))
    ends = np.flatnonzero(np.r_[s_sorted[1:] != s_sorted[:-1], True])
    return _Ranked(order=order, y=y_sorted, loss=loss, group_ends=ends)


def _weighted_metrics(r: _Ranked, w: np.ndarray) -> dict[str, np.ndarray]:
    """All metrics for each row of weights `w` [B, n] (ranked order); a weight counts row copies.

    Weights of all ones give the plain metrics; bootstrap counts give resampled ones. Where a
    resample has a single class, AUC, PR AUC and lift are NaN.
    """
    n = w.sum(axis=1)
    wy = w * r.y
    pos = wy.sum(axis=1)
    neg = n - pos
    with np.errstate(divide="ignore", invalid="ignore"):
        both = (pos > 0) & (neg > 0)
        base = pos / n
        out = {"base_rate": base, "log_loss": (w @ r.loss) / n}

        # Running totals from the top; read them at the last row of each tie group.
        cum_w, cum_pos = np.cumsum(w, axis=1), np.cumsum(wy, axis=1)
        tp = cum_pos[:, r.group_ends]
        fp = cum_w[:, r.group_ends] - tp
        pos_g, neg_g = np.diff(tp, axis=1, prepend=0.0), np.diff(fp, axis=1, prepend=0.0)
        # AUC: each positive beats the negatives below its group and half-ties those inside it.
        beaten = (neg[:, None] - fp + 0.5 * neg_g) * pos_g
        out["auc"] = np.where(both, beaten.sum(axis=1) / (pos * neg), np.nan)
        # Average precision: precision at each threshold, weighted by the recall it adds.
        precision = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=(tp + fp) > 0)
        out["pr_auc"] = np.where(both, (pos_g * precision).sum(axis=1) / pos, np.nan)

        # Top k%: take whole rows until the k-th unit, part of the row that crosses it.
        rows = np.arange(len(w))
        for pct in TOP_PERCENTS:
            k = top_k_count(len(r.y), pct)  # weights always add up to the row count
            j = (cum_w < k).sum(axis=1)  # ranked position where the top k ends
            before_w = cum_w[rows, j] - w[rows, j]
            before_pos = cum_pos[rows, j] - wy[rows, j]
            response = (before_pos + r.y[j] * (k - before_w)) / k
            out[f"response_top{pct}"] = response
            out[f"lift_top{pct}"] = np.where(both, response / base, np.nan)
    return {name: out[name] for name in METRIC_NAMES}


def binary_metrics(y_true: np.ndarray, y_score: np.ndarray) -> dict[str, float]:
    """AUC, PR AUC, log loss, response and lift in the top 10%/20%, and base rate.

    Scores are probabilities of the positive class; ties in the top-k cut keep input order.
    """
    y, s = check_inputs(y_true, y_score)
    values = _weighted_metrics(_rank(y, s), np.ones((1, len(y))))
    return {name: float(v[0]) for name, v in values.items()}


def bootstrap_ci(
    y_true: np.ndarray,
    y_score: np.ndarray,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> dict[str, tuple[float, float]]:
    """Percentile (1 - alpha) intervals for each metric from `n_boot` row resamples.

    The resamples depend only on `seed` and the row count, so arms scored on the same test
    rows with the same seed see the same resamples. Single-class resamples are skipped for
    AUC, PR AUC and lift.
    """
    y, s = check_inputs(y_true, y_score)
    if n_boot < 1 or not 0.0 < alpha < 1.0:
        raise ValueError(f"need n_boot >= 1 and 0 < alpha < 1, got {n_boot} and {alpha}")
    ranked, n = _rank(y, s), len(y)
    rng = np.random.default_rng(seed)
    chunk = max(_MIN_CHUNK, _CHUNK_CELLS // n)
    parts: list[dict[str, np.ndarray]] = []
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        # counts[i, j]: how often row j is drawn in resample i (offsets keep resamples apart).
        picks = rng.integers(0, n, size=(b, n)) + n * np.arange(b)[:, None]
        counts = np.bincount(picks.ravel(), minlength=b * n).reshape(b, n)
        parts.append(_weighted_metrics(ranked, counts[:, ranked.order].astype(np.float64)))
    cis: dict[str, tuple[float, float]] = {}
    for name in METRIC_NAMES:
        values = np.concatenate([p[name] for p in parts])
        values = values[~np.isnan(values)]
        if len(values) == 0:
            cis[name] = (math.nan, math.nan)
            continue
        lo, hi = np.quantile(values, [alpha / 2, 1 - alpha / 2])
        cis[name] = (float(lo), float(hi))
    return cis


def summarise_seeds(values: Sequence[float]) -> dict[str, float]:
    """Mean, sample std, min, max, n and a 90% t-interval for the mean of per-seed values.

    With one value the std and interval are NaN (spread is unknown from one run).
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or len(x) == 0:
        raise ValueError("summarise_seeds needs a non-empty flat sequence of numbers")
    n, mean = len(x), float(x.mean())
    std = float(x.std(ddof=1)) if n > 1 else math.nan
    half = float(stats.t.ppf(0.95, n - 1)) * std / math.sqrt(n) if n > 1 else math.nan
    return {
        "mean": mean,
        "std": std,
        "min": float(x.min()),
        "max": float(x.max()),
        "n": n,
        "ci90_lo": mean - half,
        "ci90_hi": mean + half,
    }
