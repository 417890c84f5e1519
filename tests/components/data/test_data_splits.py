"""split_target: stratified, seeded, disjoint and complete; clear errors for unusable targets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from components.data.splits import split_target
from components.errors import StepstoneError

N_ROWS, N_POS = 300, 60  # 20 % positives


@pytest.fixture
def target() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    y = np.array(["yes"] * N_POS + ["no"] * (N_ROWS - N_POS))
    rng.shuffle(y)
    return pd.DataFrame({"row_id": np.arange(N_ROWS) + 500, "x": rng.normal(size=N_ROWS), "y": y})


def _positive_share(ids: pd.Series, target: pd.DataFrame) -> float:
    return float((target.set_index("row_id").loc[ids, "y"] == "yes").mean())


def test_parts_are_disjoint_and_complete(target):
    split = split_target(target, "y", n_labelled=50, n_unlabelled=100, seed=0)
    assert (len(split.labelled), len(split.unlabelled), len(split.test)) == (50, 100, 150)
    ids = [set(p["row_id"]) for p in (split.labelled, split.unlabelled, split.test)]
    assert ids[0].isdisjoint(ids[1]) and ids[0].isdisjoint(ids[2]) and ids[1].isdisjoint(ids[2])
    assert ids[0] | ids[1] | ids[2] == set(target["row_id"])
    # rows are carried intact, not just their ids
    merged = split.test.merge(target, on="row_id", suffixes=("", "_orig"))
    assert (merged["x"] == merged["x_orig"]).all() and (merged["y"] == merged["y_orig"]).all()


def test_unlabelled_part_hides_the_label(target):
    split = split_target(target, "y", n_labelled=50, n_unlabelled=100, seed=0)
    assert "y" not in split.unlabelled.columns
    assert list(split.unlabelled.columns) == ["row_id", "x"]
    assert "y" in split.labelled.columns and "y" in split.test.columns


def test_without_unlabelled_rows_the_rest_is_test(target):
    split = split_target(target, "y", n_labelled=40, seed=0)
    assert len(split.unlabelled) == 0 and "y" not in split.unlabelled.columns
    assert len(split.test) == N_ROWS - 40
    assert split.test.index.tolist() == list(range(N_ROWS - 40))
    assert split.labelled.index.tolist() == list(range(40))


def test_split_is_stratified(target):
    share = N_POS / N_ROWS
    split = split_target(target, "y", n_labelled=50, n_unlabelled=100, seed=3)
    # each part is within one row of the target's class proportions
    assert abs((split.labelled["y"] == "yes").sum() - share * 50) <= 1
    assert abs(_positive_share(split.unlabelled["row_id"], target) * 100 - share * 100) <= 1
    assert abs((split.test["y"] == "yes").sum() - share * 150) <= 1


def test_split_is_seeded(target):
    a = split_target(target, "y", n_labelled=50, n_unlabelled=100, seed=11)
    b = split_target(target, "y", n_labelled=50, n_unlabelled=100, seed=11)
    c = split_target(target, "y", n_labelled=50, n_unlabelled=100, seed=12)
    for part in ("labelled", "unlabelled", "test"):
        pd.testing.assert_frame_equal(getattr(a, part), getattr(b, part))
    assert set(a.labelled["row_id"]) != set(c.labelled["row_id"])
    assert set(a.unlabelled["row_id"]) != set(c.unlabelled["row_id"])


def test_empty_target_raises(target):
    with pytest.raises(StepstoneError, match="empty"):
        split_target(target.iloc[:0], "y", n_labelled=5)


def test_one_class_target_raises(target):
    only_no = target[target["y"] == "no"]
    with pytest.raises(StepstoneError, match="2 rows of each class") as info:
        split_target(only_no, "y", n_labelled=5)
    assert "'no'" in str(info.value)


def test_single_row_of_a_class_raises(target):
    one_yes = pd.concat([target[target["y"] == "no"], target[target["y"] == "yes"].head(1)])
    with pytest.raises(StepstoneError, match="2 rows of each class"):
        split_target(one_yes, "y", n_labelled=5)


def test_nan_labels_raise(target):
    target.loc[[3, 9], "y"] = np.nan
    with pytest.raises(StepstoneError, match="2 target rows have no label in column 'y'"):
        split_target(target, "y", n_labelled=5)


def test_missing_label_column_raises(target):
    with pytest.raises(StepstoneError, match="no label column 'y'"):
        split_target(target.drop(columns="y"), "y", n_labelled=5)


@pytest.mark.parametrize("n_labelled, n_unlabelled", [(N_ROWS, 0), (N_ROWS + 10, 0), (200, 100)])
def test_no_room_for_test_rows_raises(target, n_labelled, n_unlabelled):
    with pytest.raises(StepstoneError, match="leave no test rows") as info:
        split_target(target, "y", n_labelled=n_labelled, n_unlabelled=n_unlabelled)
    assert f"target has {N_ROWS} rows" in str(info.value)


def test_test_set_smaller_than_class_count_raises_stepstone_error(target):
    with pytest.raises(StepstoneError):
        split_target(target, "y", n_labelled=N_ROWS - 1)


def test_fewer_labelled_rows_than_classes_raises_stepstone_error(target):
    with pytest.raises(StepstoneError):
        split_target(target, "y", n_labelled=1)
