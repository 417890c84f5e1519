"""Choose a candidate by cross-validation on the labelled target rows only.

Repeated stratified k-fold: a fold's held-out rows never train the candidate scored on
them (source and pool rows are always available for training); each repeat scores the
out-of-fold predictions of all labelled rows at once. One candidate with transfer and one
without are picked by the one-standard-error rule toward a stated preference (`pick`); the
transfer pick is registered only if it beats the other (the negative-transfer guard)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import RepeatedStratifiedKFold

from components.candidates import Blend, Candidate
from components.candidates.lanes import run_in_lanes
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


def out_of_fold(folds: list[Fold], predictions: list[np.ndarray]) -> np.ndarray:
    """One row per repeat: every labelled row's prediction by the fold model that did not see
    it, in row order (shape repeats x rows, or repeats x rows x classes)."""
    repeats = sorted({f.repeat for f in folds})
    n = sum(len(f.held_out) for f in folds if f.repeat == repeats[0])
    oof = np.empty((len(repeats), n, *predictions[0].shape[1:]))
    for f, p in zip(folds, predictions):
        oof[f.repeat, f.held_out] = p
    return oof


def repeat_scores(y: np.ndarray, oof: np.ndarray, metric: Metric) -> list[float]:
    """One score per repeat: the metric of all labelled rows' out-of-fold predictions at
    once. On ~100 rows this is far steadier than the mean of per-fold scores on ~20 rows."""
    return [float(metric(y, p)) for p in oof]


def cv_score(y: np.ndarray, oof: np.ndarray, metric: Metric, rows: np.ndarray) -> float:
    """A candidate's CV estimate on the labelled rows at positions `rows` (a bootstrap
    draw, or all of them): the mean over repeats of the out-of-fold score."""
    return float(np.mean(repeat_scores(y[rows], oof[:, rows], metric)))


def bootstrap_sd(
    y: np.ndarray, statistic: Callable[[np.ndarray], float], draws: int = 200, seed: int = 0
) -> float:
    """Standard deviation of `statistic(rows)` over bootstrap resamples of the labelled
    rows; a draw without every class has no score and is skipped. The same seed gives the
    same draws, so two statistics are resampled alike."""
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(draws):
        rows = rng.integers(0, len(y), len(y))
        if len(np.unique(y[rows])) < len(np.unique(y)):
            continue
        values.append(statistic(rows))
    return float(np.std(values, ddof=1))


def paired_se(
    y: np.ndarray, a: np.ndarray, b: np.ndarray, metric: Metric, draws: int = 200, seed: int = 0
) -> float:
    """Bootstrap standard error of the difference between two candidates' CV scores (`a`,
    `b`: their out_of_fold arrays): the labelled rows are resampled, the same rows for both,
    so the noise the two share (which rows happen to be labelled) cancels. Only the repeats
    both ran count (a raced-out candidate ran one)."""
    a, b = a[: len(b)], b[: len(a)]
    return bootstrap_sd(
        y, lambda rows: cv_score(y, a, metric, rows) - cv_score(y, b, metric, rows), draws, seed
    )


def score_se(
    y: np.ndarray, oof: np.ndarray, metric: Metric, draws: int = 200, seed: int = 0
) -> float:
    """Bootstrap standard error of one candidate's CV estimate over the labelled rows: how
    much it would move had other rows been labelled. This is the larger noise; the spread
    over repeats (0 with one repeat) measures only how the folds fell."""
    return bootstrap_sd(y, lambda rows: cv_score(y, oof, metric, rows), draws, seed)


@dataclass(frozen=True)
class CVResult:
    """`table`: one row per candidate that trained (mean over the repeats it ran, its
    bootstrap SE over the labelled rows (`score_se`), how many repeats it ran, transfer,
    seconds spent training, a blend's members joined by commas, one column per repeat);
    `failed`: candidate -> why it could not train; `folds`: the folds used; `oof`:
    candidate -> its out_of_fold predictions (a row per repeat it ran)."""

    table: pd.DataFrame
    failed: dict[str, str]
    folds: list[Fold]
    oof: dict[str, np.ndarray]


class _Fits:
    """Each candidate's held-out predictions, fold index -> array, filled one batch of folds
    at a time; a candidate that raises is recorded in `failed` and never fitted again, and
    one that ignores the target rows is fitted once (`models`)."""

    def __init__(self, rows: pd.DataFrame, folds: list[Fold]):
        self.rows, self.folds = rows, folds
        self.models: dict[str, object] = {}
        self.predictions: dict[str, dict[int, np.ndarray]] = {}
        self.seconds: dict[str, float] = {}
        self.failed: dict[str, str] = {}

    def run(self, candidates: list[Candidate | Blend], indices: list[int]) -> None:
        """The fits in lanes (components.candidates.lanes), then the blends. The table keeps
        the candidates' order whichever lane finishes first."""
        for c in candidates:
            if c.name not in self.failed:
                self.predictions.setdefault(c.name, {})
        run_in_lanes(
            [c for c in candidates if c.name not in self.failed],
            lambda c: (self.blend if isinstance(c, Blend) else self.fit)(c, indices),
        )

    def fit(self, candidate: Candidate, indices: list[int]) -> None:
        name = candidate.name
        done = self.predictions[name]
        start = time.perf_counter()
        try:
            if not candidate.uses_target and name not in self.models:
                self.models[name] = candidate.fit(self.rows.iloc[:0])
            once = self.models.get(name)
            for i in indices:
                fold = self.folds[i]
                model = once or candidate.fit(self.rows.iloc[fold.train])
                done[i] = model.predict_proba(self.rows.iloc[fold.held_out])
        except Exception as exc:  # noqa: BLE001 - one broken recipe must not stop the run
            self.failed[name] = f"{type(exc).__name__}: {exc}"
            del self.predictions[name]
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    def blend(self, blend: Blend, indices: list[int]) -> None:
        missing = [m for m in blend.members if m not in self.predictions]
        if missing:
            self.failed[blend.name] = f"its members {missing} did not train"
            self.predictions.pop(blend.name, None)
            return
        done = self.predictions[blend.name]
        for i in indices:
            done[i] = np.mean([self.predictions[m][i] for m in blend.members], axis=0)

    def oof(self) -> dict[str, np.ndarray]:
        return {
            name: out_of_fold([self.folds[i] for i in done], list(done.values()))
            for name, done in self.predictions.items()
        }


def raced_out(
    candidates: list[Candidate | Blend],
    oof: dict[str, np.ndarray],
    y: np.ndarray,
    metric: Metric,
    race_se: float,
    keep: tuple[str, ...],
    seed: int,
) -> set[str]:
    """The candidates whose first-repeat score trails the best of their kind (with transfer,
    or without) by more than `race_se` paired standard errors: racing (Maron & Moore 1994),
    so later repeats are spent on the candidates still in contention. Blends (they cost no
    fit), their members and `keep` (the preferred candidates) always stay."""
    transfer = {c.name: c.transfer for c in candidates if c.name in oof}
    score = {name: repeat_scores(y, oof[name], metric)[0] for name in transfer}
    blends = [c for c in candidates if isinstance(c, Blend)]
    stay = set(keep) | {c.name for c in blends} | {m for c in blends for m in c.members}
    out = set()
    for name, kind in transfer.items():
        leader = max((n for n in transfer if transfer[n] == kind), key=score.get)
        if name in stay or name == leader:
            continue
        error = paired_se(y, oof[leader], oof[name], metric, seed=seed)
        if score[leader] - score[name] > race_se * error:
            out.add(name)
    return out


def cross_validate(
    candidates: list[Candidate | Blend],
    rows: pd.DataFrame,
    y: np.ndarray,
    metric: Metric,
    folds: list[Fold],
    race_se: float | None = None,
    keep: tuple[str, ...] = (),
    seed: int = 0,
) -> CVResult:
    """Fit every candidate on each fold's training rows and score its held-out rows. A
    candidate that raises is recorded in `failed` and skipped; a Blend averages its members'
    held-out predictions. With `race_se`, every candidate runs the first repeat and only
    those not `raced_out` run the rest (the table's `repeats` says how many each ran)."""
    fits = _Fits(rows, folds)
    first = [i for i, f in enumerate(folds) if f.repeat == 0]
    rest = [i for i, f in enumerate(folds) if f.repeat > 0]
    if race_se is None or not rest:
        fits.run(candidates, first + rest)
    else:
        fits.run(candidates, first)
        out = raced_out(candidates, fits.oof(), y, metric, race_se, keep, seed)
        fits.run([c for c in candidates if c.name not in out], rest)
    transfer = {c.name: c.transfer for c in candidates}
    members = {c.name: ",".join(c.members) for c in candidates if isinstance(c, Blend)}
    oof = fits.oof()
    scores = {name: repeat_scores(y, o, metric) for name, o in oof.items()}
    table = pd.DataFrame(
        {
            name: {
                "mean": float(np.mean(s)),
                "se": score_se(y, oof[name], metric, seed=seed),
                "repeats": len(s),
                "transfer": transfer[name],
                "seconds": fits.seconds.get(name, 0.0),
                "members": members.get(name, ""),
                **{f"repeat_{i}": v for i, v in enumerate(s)},
            }
            for name, s in scores.items()
        }
    ).T
    table.index.name = "candidate"
    return CVResult(table, fits.failed, folds, oof)


def oof_frame(result: CVResult, row_ids: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    """Every candidate's out-of-fold predictions, one row per (repeat, labelled row): its
    row id, label, and one column per candidate (P(positive), or `name_p<k>` per class), so
    a reader can recompute the CV table or compare choice rules offline. A candidate raced
    out after the first repeat has no predictions (NaN) in the later ones."""
    frames = []
    for repeat in range(len({f.repeat for f in result.folds})):
        frame = pd.DataFrame({"repeat": repeat, "row_id": row_ids, "label": y})
        for name, oof in result.oof.items():
            p = oof[repeat] if repeat < len(oof) else np.full_like(oof[0], np.nan)
            if p.ndim == 1:
                frame[name] = p
            else:
                for k in range(p.shape[1]):
                    frame[f"{name}_p{k}"] = p[:, k]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


@dataclass(frozen=True)
class Choice:
    """The chosen candidate, the best one without transfer, the margin and why."""

    name: str
    transfer: bool
    baseline: str
    margin: float
    reason: str


def pick(
    means: pd.Series, prefer: tuple[str, ...], se: Callable[[str, str], float], tolerance: float
) -> tuple[str, str]:
    """The one-standard-error rule (Hastie, Tibshirani & Friedman, ESL 7.10) with a stated
    preference instead of "the simplest": the first of `prefer` among `means` unless the best
    by CV beats it by more than `tolerance` paired standard errors; else the best. On ~100
    labelled rows the top few candidates are within noise of each other, and the plain best
    is partly the luckiest (the winner's curse): the best of ~6 equal candidates leads by
    about 1 SE by luck alone, hence a default `tolerance` of 2 rather than ESL's 1. Returns
    the name and why, in words."""
    best = means.idxmax()
    preferred = next((name for name in prefer if name in means.index), None)
    if preferred is None or preferred == best:
        return best, f"{best} {means[best]:.4f} is the best by CV"
    gap, error = float(means[best] - means[preferred]), se(best, preferred)
    if gap <= tolerance * error:
        return preferred, (
            f"{preferred} {means[preferred]:.4f} is within {tolerance:g} SE of the best, "
            f"{best} {means[best]:.4f} (gap {gap:.4f}, SE {error:.4f})"
        )
    return best, (
        f"{best} {means[best]:.4f} beats the preferred {preferred} {means[preferred]:.4f} "
        f"by {gap:.4f} > {tolerance:g} SE ({error:.4f})"
    )


def choose(
    table: pd.DataFrame,
    se: Callable[[str, str], float],
    prefer: tuple[str, ...] = (),
    tolerance: float = 2.0,
    metric: str = "auc",
) -> Choice:
    """Pick one candidate with transfer and one without (`pick`: the one-SE rule toward
    `prefer`; `se(a, b)` is the paired standard error of their CV difference); register the
    transfer pick only if its CV mean beats the plain pick's (the negative-transfer guard),
    otherwise the plain pick, and the reason says so."""
    means = table["mean"].astype(float)
    transfer = table["transfer"].astype(bool)
    if not (~transfer).any():
        name, why = pick(means, prefer, se, tolerance)
        return Choice(name, True, "", float("nan"), f"{why} (no candidate without transfer)")
    baseline, plain_why = pick(means[~transfer], prefer, se, tolerance)
    if not transfer.any():
        return Choice(
            baseline, False, baseline, float("nan"), f"{plain_why}; no transfer candidate trained"
        )
    name, why = pick(means[transfer], prefer, se, tolerance)
    margin = float(means[name] - means[baseline])
    if margin > 0:
        return Choice(
            name,
            True,
            baseline,
            margin,
            f"{why}; it beats the candidate without transfer ({plain_why}) by {margin:+.4f} "
            f"CV {metric}",
        )
    return Choice(
        baseline,
        False,
        baseline,
        -margin,
        f"{plain_why}; no transfer candidate beats it ({why}, {margin:+.4f} CV {metric}): "
        "registered the model without transfer",
    )
