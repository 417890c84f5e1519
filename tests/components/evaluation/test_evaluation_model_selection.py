"""Label-free model selection scorers and the agreement report."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from components.evaluation.model_selection import (
    agreement,
    density_ratio,
    dev_risk,
    iwv_risk,
    label_free_scores,
    prediction_entropy,
    row_loss,
    soft_neighbourhood_density,
)
from components.models.rows import Labelled

torch.set_num_threads(1)


def test_entropy_is_log_k_for_uniform_and_zero_for_certain_predictions():
    assert prediction_entropy(np.full((5, 4), 0.25)) == pytest.approx(math.log(4))
    assert prediction_entropy(np.eye(3)) == pytest.approx(0.0, abs=1e-5)
    assert prediction_entropy(np.full(7, 0.5)) == pytest.approx(math.log(2))  # binary [n]


def test_snd_prefers_clustered_predictions():
    rng = np.random.default_rng(0)
    clustered = np.where(rng.random(200) > 0.5, 0.98, 0.02)
    spread = rng.random(200)
    assert soft_neighbourhood_density(clustered) > soft_neighbourhood_density(spread)


def test_row_loss_binary_and_multiclass():
    assert row_loss(np.array([0.8, 0.8]), np.array([1, 0])) == pytest.approx(
        [-math.log(0.8), -math.log(0.2)]
    )
    assert row_loss(np.array([[0.1, 0.9]]), np.array([1])) == pytest.approx([-math.log(0.9)])


def test_iwv_and_dev_reduce_to_the_mean_loss_with_unit_weights():
    loss = np.array([0.1, 0.5, 0.9, 0.3])
    assert iwv_risk(loss, np.ones(4)) == pytest.approx(0.45)
    assert dev_risk(loss, np.ones(4)) == pytest.approx(0.45)
    # DEV: mean(w l) + eta (mean(w) - 1), eta = -Cov(w l, w) / Var(w) = -0.25 / (2.75 / 3).
    weight = np.array([0.5, 1.5, 0.5, 2.5])
    assert iwv_risk(loss, weight) == pytest.approx(0.5 / 1.25)  # self-normalised
    assert dev_risk(loss, weight) == pytest.approx(0.5 - 0.25 / (2.75 / 3) * 0.25)


def test_density_ratio_is_high_where_the_target_is():
    rng = np.random.default_rng(0)
    source = rng.normal(size=(2000, 1))
    target = rng.normal(loc=1.0, size=(2000, 1))
    weight = density_ratio(source, target)
    # true ratio exp(x - 0.5): rows at x > 1 should weigh more than rows at x < -1
    assert weight[source[:, 0] > 1].mean() > 5 * weight[source[:, 0] < -1].mean()
    assert weight.mean() == pytest.approx(1.0, abs=0.25)


class _Fixed(torch.nn.Module):
    """A 'model' that predicts from the first input column with a given sharpness."""

    def __init__(self, sharpness: float):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(sharpness))
        self.head = torch.nn.Identity()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)[:, 0]


def test_label_free_scores_rank_a_good_model_above_a_flipped_one():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    target = (rng.normal(size=(300, 2)) + [0.5, 0.0]).astype(np.float32)
    good = label_free_scores(_Fixed(3.0), Labelled.of(x, y), target)
    flipped = label_free_scores(_Fixed(-3.0), Labelled.of(x, y), target)
    assert good["iwv"] > flipped["iwv"] and good["dev"] > flipped["dev"]
    vague = label_free_scores(_Fixed(0.1), Labelled.of(x, y), target)
    assert good["entropy"] > vague["entropy"]


def test_agreement_reports_choice_regret_and_rank_correlation():
    truth = pd.Series({"a": 0.70, "b": 0.80, "c": 0.75})
    scores = pd.DataFrame({"right": [1.0, 3.0, 2.0], "wrong": [3.0, 1.0, 2.0]}, index=truth.index)
    table = agreement(scores, truth)
    assert table.loc["right", "picked"] == "b" and table.loc["right", "same_choice"]
    assert table.loc["right", "spearman"] == pytest.approx(1.0)
    assert table.loc["wrong", "picked"] == "a"
    assert table.loc["wrong", "regret"] == pytest.approx(0.10)
    assert table.loc["wrong", "spearman"] == pytest.approx(-1.0)
