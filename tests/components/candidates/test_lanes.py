"""Candidate fits side by side: serial fits in order in one lane, parallel ones beside them,
the process's threads split while they run, and the same results as one fit at a time."""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from components.candidates import Blend, Candidate
from components.candidates.lanes import run_in_lanes
from components.candidates.trees import fit_booster
from components.evaluation.cv import cross_validate, make_folds


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def named(name: str, parallel: bool) -> Candidate:
    return Candidate(name, False, lambda rows: None, parallel=parallel)


def test_serial_fits_run_in_order_one_at_a_time_beside_the_parallel_ones(two_threads):
    meeting = threading.Barrier(2, timeout=10)  # broken unless two fits run at once
    spans: dict[str, tuple[float, float]] = {}
    threads_seen: list[int] = []

    def work(candidate: Candidate) -> None:
        start = time.perf_counter()
        threads_seen.append(torch.get_num_threads())
        if candidate.name in ("net_a", "tree_a"):
            meeting.wait()
        time.sleep(0.05)
        spans[candidate.name] = (start, time.perf_counter())

    candidates = [named("net_a", False), named("tree_a", True), named("net_b", False)]
    run_in_lanes(candidates, work)
    assert set(spans) == {"net_a", "tree_a", "net_b"}
    assert spans["net_a"][1] <= spans["net_b"][0]  # in order, never both at once
    assert threads_seen == [1, 1, 1]  # two lanes share the two threads
    assert torch.get_num_threads() == 2  # given back after


def test_one_lane_runs_everything_in_the_callers_thread(two_threads):
    seen = []
    run_in_lanes(
        [named("a", True), named("b", False)],
        lambda c: seen.append((c.name, threading.current_thread(), torch.get_num_threads())),
        lanes=1,
    )
    assert seen == [("a", threading.main_thread(), 2), ("b", threading.main_thread(), 2)]


class Net:
    encoder = None

    def __init__(self, rows: pd.DataFrame, seed: int):
        torch.manual_seed(seed)  # global random state: dropout and initial weights
        self.model = nn.Sequential(nn.Linear(2, 8), nn.Dropout(0.5), nn.Linear(8, 1))
        x = torch.tensor(rows[["a", "b"]].to_numpy(), dtype=torch.float32)
        y = torch.tensor(rows["y"].to_numpy(), dtype=torch.float32)
        opt = torch.optim.SGD(self.model.parameters(), lr=0.1)
        for _ in range(30):
            opt.zero_grad()
            nn.functional.binary_cross_entropy_with_logits(self.model(x)[:, 0], y).backward()
            opt.step()

    def predict_proba(self, rows: pd.DataFrame) -> np.ndarray:
        self.model.eval()
        with torch.no_grad():
            x = torch.tensor(rows[["a", "b"]].to_numpy(), dtype=torch.float32)
            return torch.sigmoid(self.model(x)[:, 0]).numpy()


class Trees:
    encoder = None

    def __init__(self, rows: pd.DataFrame, seed: int):
        self.booster = fit_booster(rows[["a", "b"]], rows["y"].to_numpy(), seed, n_estimators=20)

    def predict_proba(self, rows: pd.DataFrame) -> np.ndarray:
        return self.booster.predict_proba(rows[["a", "b"]])[:, 1]


def test_lanes_give_the_same_cross_validation_as_one_fit_at_a_time(two_threads):
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(60), np.ones(60)]
    rows = pd.DataFrame({"row_id": np.arange(120), "a": y + rng.normal(0, 1, 120), "y": y})
    rows["b"] = rng.normal(size=120)
    candidates = [
        Candidate("net", True, lambda r: Net(r, 1)),
        Candidate("trees", False, lambda r: Trees(r, 2), parallel=True),
        Candidate("net_2", True, lambda r: Net(r, 3)),
        Candidate("trees_2", False, lambda r: Trees(r, 4), parallel=True),
        Blend("blend", ("net", "trees")),
    ]
    folds = make_folds(y, 4, 2, 0)

    def cv():
        return cross_validate(candidates, rows, y, roc_auc_score, folds)

    side_by_side = cv()
    torch.set_num_threads(1)  # one lane: every fit in turn, one thread each as in the lanes
    one_at_a_time = cv()
    assert list(side_by_side.table.index) == ["net", "trees", "net_2", "trees_2", "blend"]
    for name, oof in one_at_a_time.oof.items():
        np.testing.assert_array_equal(side_by_side.oof[name], oof)
