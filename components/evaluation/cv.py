"""Choose a candidate by cross-validation on the labelled target rows only.

Repeated stratified k-fold: a fold's held-out rows never train the candidate scored on
them (source and pool rows are always available for training); each repeat scores the
out-of-fold predictions of all labelled rows at once. The best candidate by mean
score is chosen, but a transfer candidate only if it beats the best candidate without
transfer (the negative-transfer guard)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import RepeatedStratifiedKFold

from components.candidates import Blend, Candidate
from components.errors import StepstoneError

Metric = Callable[[np.ndarray, np.ndarray], float]


@dataclass(frozen=True)
class Fold:
    """Positions (into the labelled target rows) that train and that score one candidate
    fit, in repeat `repeat` of the k-fold split."""

    train: np.ndarray
    held_out: np.ndarray
    repeat: int


def make_folds(y: np.ndarray, folds: int, repeats: int, seed: int) -> list[Fold]:
    """Repeated stratified k-fold over the labels `y`; a clear error when a class has fewer
    rows than folds."""
    classes, counts = np.unique(y, return_counts=True)
    if counts.min() < folds:
        rare = classes[counts.argmin()]
        raise StepstoneError(
            f"choice.folds is {folds} but the labelled target rows hold only {counts.min()} "
            f"of class {rare!r}: every fold needs one. Lower choice.folds (>= 2), raise "
            f"target.labelled, or set choice.criterion: label_free."
        )
    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    return [Fold(a, b, i // folds) for i, (a, b) in enumerate(splitter.split(np.zeros(len(y)), y))]


def repeat_scores(y: np.ndarray, folds: list[Fold], predictions: list[np.ndarray], metric: Metric):
    """One score per repeat: the metric of the out-of-fold predictions of all its folds
    together (every labelled row scored once, by a model that did not see it). On ~100 rows
    this is far steadier than the mean of per-fold scores on ~20 rows each."""
    scores = []
    for r in sorted({f.repeat for f in folds}):
        mine = [(f, p) for f, p in zip(folds, predictions) if f.repeat == r]
        order = np.concatenate([f.held_out for f, _ in mine])
        scores.append(metric(y[order], np.concatenate([p for _, p in mine])))
    return scores


@dataclass(frozen=True)
class CVResult:
    """`table`: one row per candidate that trained (mean and std over repeats, transfer,
    seconds spent training, one column per repeat); `failed`: candidate -> why it could not train; `folds`: the folds used."""

    table: pd.DataFrame
    failed: dict[str, str]
    folds: list[Fold]


def cross_validate(
    candidates: list[Candidate | Blend],
    rows: pd.DataFrame,
    y: np.ndarray,
    metric: Metric,
    folds: list[Fold],
) -> CVResult:
    """Fit every candidate on each fold's training rows and score its held-out rows. A
    candidate that raises is recorded in `failed` and skipped; a Blend averages its members'
    held-out predictions."""
    predictions: dict[str, list[np.ndarray]] = {}
    seconds: dict[str, float] = {}
    failed: dict[str, str] = {}
    transfer = {c.name: c.transfer for c in candidates}
    for candidate in candidates:
        if isinstance(candidate, Blend):
            missing = [m for m in candidate.members if m not in predictions]
            if missing:
                failed[candidate.name] = f"its members {missing} did not train"
                continue
            predictions[candidate.name] = [
                np.mean([predictions[m][i] for m in candidate.members], axis=0)
                for i in range(len(folds))
            ]
            continue
        start = time.perf_counter()
        try:
            once = None if candidate.uses_target else candidate.fit(rows.iloc[:0])
            predictions[candidate.name] = [
                (once or candidate.fit(rows.iloc[f.train])).predict_proba(rows.iloc[f.held_out])
                for f in folds
            ]
        except Exception as exc:  # noqa: BLE001 - one broken recipe must not stop the run
            failed[candidate.name] = f"{type(exc).__name__}: {exc}"
        seconds[candidate.name] = time.perf_counter() - start
    scores = {name: repeat_scores(y, folds, p, metric) for name, p in predictions.items()}
    table = pd.DataFrame(
        {
            name: {
                "mean": float(np.mean(s)),
                "std": float(np.std(s, ddof=1)) if len(s) > 1 else 0.0,
                "transfer": transfer[name],
                "seconds": seconds.get(name, 0.0),
                **{f"repeat_{i}": v for i, v in enumerate(s)},
            }
            for name, s in scores.items()
        }
    ).T
    table.index.name = "candidate"
    return CVResult(table, failed, folds)


@dataclass(frozen=True)
class Choice:
    """The chosen candidate, the best one without transfer, the margin and why."""

    name: str
    transfer: bool
    baseline: str
    margin: float
    reason: str


def choose(table: pd.DataFrame, metric: str = "auc") -> Choice:
    """The best candidate by CV mean; a transfer candidate only if it beats the best one
    without transfer (otherwise that one, and the reason says so)."""
    means = table["mean"].astype(float)
    plain = means[~table["transfer"].astype(bool)]
    if plain.empty:
        best = means.idxmax()
        return Choice(
            best,
            True,
            "",
            float("nan"),
            f"{best} has the best CV {metric} "
            f"{means[best]:.4f} (no candidate without transfer to compare with)",
        )
    baseline = plain.idxmax()
    best = means.idxmax()
    if means[best] > means[baseline]:  # only a transfer candidate can beat the best plain one
        margin = float(means[best] - means[baseline])
        return Choice(
            best,
            True,
            baseline,
            margin,
            f"{best} CV {metric} {means[best]:.4f} beats the best candidate without transfer, "
            f"{baseline} {means[baseline]:.4f}, by {margin:+.4f}",
        )
    transfers = means[table["transfer"].astype(bool)]
    rival = transfers.idxmax() if len(transfers) else None
    margin = float(means[baseline] - transfers.max()) if len(transfers) else float("nan")
    why = (
        f"no transfer candidate beats it (best: {rival} {transfers.max():.4f})"
        if rival
        else "no transfer candidate trained"
    )
    return Choice(
        baseline,
        False,
        baseline,
        margin,
        f"{baseline} (no transfer) has CV {metric} {means[baseline]:.4f}; {why}: "
        f"registered the model without transfer",
    )
