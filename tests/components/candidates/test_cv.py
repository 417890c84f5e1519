"""Cross-validated choice on the labelled target rows: folds, failures, the guard."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from components.candidates import Blend, Candidate
from components.errors import StepstoneError
from components.evaluation.cv import (
    choose,
    cross_validate,
    make_folds,
    oof_frame,
    paired_se,
    pick,
    score_se,
)


class Fixed:
    """A 'model' that scores rows by one column (or, noisy, by that column plus noise)."""

    encoder = None

    def __init__(self, column: str, noise: float = 0.0, seen: set | None = None):
        self.column, self.noise = column, noise

    def predict_proba(self, rows: pd.DataFrame) -> np.ndarray:
        rng = np.random.default_rng(len(rows))
        return rows[self.column].to_numpy() + self.noise * rng.normal(size=len(rows))


def labelled(n: int = 60, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.r_[np.zeros(n // 2), np.ones(n - n // 2)]
    rows = pd.DataFrame(
        {
            "row_id": np.arange(n) + 1000,
            "good": y + rng.normal(0, 0.5, n),
            "bad": rng.normal(size=n),
        }
    )
    return rows, y


def test_folds_need_a_row_of_each_class_per_fold():
    y = np.r_[np.zeros(30), np.ones(4)]
    with pytest.raises(StepstoneError, match=r"choice.folds is 5 .* only 4 of class"):
        make_folds(y, folds=5, repeats=1, seed=0)


def test_each_repeat_scores_every_row_once_with_a_model_that_never_saw_it():
    rows, y = labelled()
    seen: list[tuple[set, set]] = []

    def fit(train: pd.DataFrame):
        class Recorder(Fixed):
            def predict_proba(self, held: pd.DataFrame) -> np.ndarray:
                seen.append((set(train["row_id"]), set(held["row_id"])))
                return super().predict_proba(held)

        return Recorder("good")

    folds = make_folds(y, folds=5, repeats=2, seed=0)
    result = cross_validate([Candidate("recorder", False, fit)], rows, y, roc_auc_score, folds)
    assert len(seen) == 10
    assert all(not (train & held) for train, held in seen)
    for repeat in (0, 1):
        held = [f.held_out for f in folds if f.repeat == repeat]
        assert sorted(np.concatenate(held)) == list(range(len(rows)))
    assert list(result.table.filter(like="repeat_").columns) == ["repeat_0", "repeat_1"]


def test_the_out_of_fold_frame_reproduces_the_cv_table():
    rows, y = labelled()
    folds = make_folds(y, folds=5, repeats=2, seed=0)
    candidates = [
        Candidate("good", False, lambda train: Fixed("good", noise=0.3)),
        Candidate("bad", True, lambda train: Fixed("bad")),
    ]
    result = cross_validate(candidates, rows, y, roc_auc_score, folds)
    frame = oof_frame(result, rows["row_id"].to_numpy(), y)
    assert len(frame) == 2 * len(rows)
    for repeat, part in frame.groupby("repeat"):
        assert sorted(part["row_id"]) == sorted(rows["row_id"])
        for name in ("good", "bad"):
            score = roc_auc_score(part["label"], part[name])
            assert score == pytest.approx(result.table.loc[name, f"repeat_{repeat}"])


def test_a_candidate_that_fails_is_reported_and_skipped():
    rows, y = labelled()

    def broken(train):
        raise ValueError("no trees today")

    candidates = [
        Candidate("good", False, lambda t: Fixed("good")),
        Candidate("broken", True, broken),
        Blend("blend", ("good", "broken")),
    ]
    result = cross_validate(candidates, rows, y, roc_auc_score, make_folds(y, 5, 1, 0))
    assert list(result.table.index) == ["good"]
    assert result.failed["broken"] == "ValueError: no trees today"
    assert "broken" in result.failed["blend"]


def test_the_guard_registers_transfer_only_when_it_beats_every_plain_candidate():
    rows, y = labelled()
    folds = make_folds(y, 5, 2, 0)
    plain = Candidate("plain", False, lambda t: Fixed("good", noise=1.0))
    helps = Candidate("helps", True, lambda t: Fixed("good"))
    hurts = Candidate("hurts", True, lambda t: Fixed("bad"))

    def chosen(candidates):
        cv = cross_validate(candidates, rows, y, roc_auc_score, folds)
        return choose(cv.table, lambda a, b: paired_se(y, cv.oof[a], cv.oof[b], roc_auc_score))

    won = chosen([plain, helps, hurts])
    assert (won.name, won.transfer, won.baseline) == ("helps", True, "plain")
    assert won.margin > 0 and "beats the candidate without transfer" in won.reason

    lost = chosen([plain, hurts])
    assert (lost.name, lost.transfer) == ("plain", False)
    assert "no transfer candidate beats it (hurts" in lost.reason and lost.margin > 0


def test_the_one_se_rule_keeps_the_preferred_candidate_unless_the_best_is_clearly_ahead():
    means = pd.Series({"blend": 0.70, "lucky": 0.72, "single": 0.69})
    assert pick(means, ("blend",), lambda a, b: 0.03, 1.0)[0] == "blend"
    name, why = pick(means, ("blend",), lambda a, b: 0.01, 1.0)
    assert name == "lucky" and "beats the preferred blend" in why
    assert pick(means, ("blend",), lambda a, b: 0.03, 0.0)[0] == "lucky"  # tolerance 0: argmax
    assert pick(means, ("absent", "single"), lambda a, b: 0.05, 1.0)[0] == "single"
    assert pick(means, (), lambda a, b: 1.0, 1.0)[0] == "lucky"


def test_the_paired_se_is_zero_for_a_candidate_against_itself_and_grows_with_noise():
    rows, y = labelled()
    folds = make_folds(y, 5, 2, 0)
    cv = cross_validate(
        [
            Candidate("good", False, lambda t: Fixed("good")),
            Candidate("noisy", False, lambda t: Fixed("good", noise=0.5)),
            Candidate("noisier", False, lambda t: Fixed("good", noise=2.0)),
        ],
        rows,
        y,
        roc_auc_score,
        folds,
    )
    assert cv.oof["good"].shape == (2, len(rows))
    se = {n: paired_se(y, cv.oof["good"], cv.oof[n], roc_auc_score) for n in cv.oof}
    assert se["good"] == 0.0
    assert 0.0 < se["noisy"] < se["noisier"]


def test_the_guard_compares_with_the_plain_pick_of_the_one_se_rule():
    table = pd.DataFrame(
        {
            "mean": {"lgbm": 0.74, "target_only": 0.76, "blend": 0.75},
            "transfer": {"lgbm": False, "target_only": False, "blend": True},
        }
    )
    close = choose(table, lambda a, b: 0.04, ("blend", "lgbm"))
    assert (close.name, close.baseline) == ("blend", "lgbm")
    strict = choose(table, lambda a, b: 0.04, ("blend", "lgbm"), tolerance=0.0)
    assert (strict.name, strict.transfer) == ("target_only", False)


def test_a_blend_costs_no_fit_and_averages_its_members():
    rows, y = labelled()
    calls = []

    def counted(column):
        def fit(train):
            calls.append(column)
            return Fixed(column)

        return fit

    folds = make_folds(y, 5, 1, 0)
    candidates = [
        Candidate("a", False, counted("good")),
        Candidate("b", True, counted("bad")),
        Blend("ab", ("a", "b")),
    ]
    table = cross_validate(candidates, rows, y, roc_auc_score, folds).table
    assert len(calls) == 10  # 5 folds x 2 members, nothing for the blend
    mean = np.concatenate([f.held_out for f in folds])
    expected = roc_auc_score(y[mean], (rows["good"] + rows["bad"]).to_numpy()[mean] / 2)
    assert table.loc["ab", "repeat_0"] == pytest.approx(expected)


def test_a_recipe_that_ignores_the_target_is_fitted_once():
    rows, y = labelled()
    calls = []

    def fit(train):
        calls.append(len(train))
        return Fixed("good")

    candidate = Candidate("source", False, fit, uses_target=False)
    far_behind = Candidate("noise", False, lambda t: Fixed("bad"))
    cross_validate([candidate], rows, y, roc_auc_score, make_folds(y, 5, 2, 0))
    assert calls == [0]
    raced = cross_validate(
        [candidate, far_behind], rows, y, roc_auc_score, make_folds(y, 5, 2, 0), race_se=2.0
    )
    assert calls == [0, 0] and raced.table.loc["noise", "repeats"] == 1


def test_racing_drops_a_candidate_far_behind_its_kind_after_the_first_repeat():
    rows, y = labelled()
    folds = make_folds(y, 5, 3, 0)
    fits: list[str] = []

    def counted(name, column, noise=0.0):
        def fit(train):
            fits.append(name)
            return Fixed(column, noise)

        return Candidate(name, name in ("helps", "hurts"), fit)

    candidates = [
        counted("good", "good"),
        counted("awful", "bad"),  # far behind the plain leader: raced out
        counted("kept", "bad"),  # as bad, but preferred: runs every repeat
        counted("helps", "good", noise=0.3),
        counted("hurts", "bad"),  # far behind, but a blend member: runs every repeat
        Blend("mix", ("helps", "hurts")),
    ]

    def run(race_se):
        fits.clear()
        cv = cross_validate(candidates, rows, y, roc_auc_score, folds, race_se, keep=("kept",))
        se = lambda a, b: paired_se(y, cv.oof[a], cv.oof[b], roc_auc_score)
        return cv, dict(pd.Series(fits).value_counts()), choose(cv.table, se)

    raced, raced_fits, raced_choice = run(race_se=3.0)
    assert raced.table["repeats"].to_dict() == {
        "good": 3, "awful": 1, "kept": 3, "helps": 3, "hurts": 3, "mix": 3
    }  # fmt: skip
    assert raced_fits["awful"] == 5 and raced_fits["good"] == 15
    assert raced.oof["awful"].shape == (1, len(rows))
    frame = oof_frame(raced, rows["row_id"].to_numpy(), y)
    assert frame.loc[frame["repeat"] > 0, "awful"].isna().all()
    assert frame.loc[frame["repeat"] == 0, "awful"].notna().all()

    every, every_fits, every_choice = run(race_se=None)
    assert set(every.table["repeats"]) == {3} and every_fits["awful"] == 15
    assert raced_choice == every_choice
    assert raced.table.loc["awful", "mean"] == every.table.loc["awful", "repeat_0"]


def test_racing_keeps_candidates_within_the_noise_of_the_leader():
    rows, y = labelled()
    candidates = [
        Candidate("good", False, lambda t: Fixed("good")),
        Candidate("close", False, lambda t: Fixed("good", noise=0.05)),
    ]
    cv = cross_validate(candidates, rows, y, roc_auc_score, make_folds(y, 5, 2, 0), 3.0)
    assert set(cv.table["repeats"]) == {2}


def test_the_table_gives_each_candidate_the_bootstrap_se_of_its_cv_estimate():
    """With one repeat there is no spread over repeats; the table's `se` is the bootstrap
    SE over the labelled rows: 0 for a perfect ranker, larger on fewer rows."""
    rows, y = labelled(200)
    rows["perfect"] = y
    candidates = [
        Candidate("good", False, lambda t: Fixed("good")),
        Candidate("perfect", False, lambda t: Fixed("perfect")),
    ]
    cv = cross_validate(candidates, rows, y, roc_auc_score, make_folds(y, 5, 1, 0))
    se = cv.table["se"].astype(float)
    assert se["perfect"] == 0.0 and 0.005 < se["good"] < 0.1
    assert se["good"] == score_se(y, cv.oof["good"], roc_auc_score)
    half = np.r_[0:50, 100:150]
    small = cross_validate(
        candidates[:1], rows.iloc[half], y[half], roc_auc_score, make_folds(y[half], 5, 1, 0)
    )
    assert small.table.loc["good", "se"] > se["good"]
