"""Tests for point metrics, bootstrap intervals and seed summaries."""

import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

from components.errors import StepstoneError
from components.evaluation import METRIC_NAMES, binary_metrics, bootstrap_ci, summarise_seeds
from components.evaluation.metrics import cumulative_gain


def _scored(n: int, prevalence: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels with the given prevalence and informative probability scores."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prevalence).astype(int)
    s = 1 / (1 + np.exp(-(rng.normal(size=n) + 1.5 * y - 1.0)))
    return y, s


def test_perfect_and_reversed_ranking():
    y = np.array([0, 0, 1, 0, 1, 1])
    s = np.array([0.1, 0.2, 0.9, 0.3, 0.8, 0.7])
    assert binary_metrics(y, s)["auc"] == pytest.approx(1.0)
    assert binary_metrics(y, s)["pr_auc"] == pytest.approx(1.0)
    assert binary_metrics(y, 1 - s)["auc"] == pytest.approx(0.0)


def test_lift_and_response_on_hand_built_example():
    # 20 rows ranked by score, 5 positives (base rate 0.25).
    # Top 10% = 2 rows holding 1 positive; top 20% = 4 rows holding 3 positives.
    y = np.array([1, 0, 1, 1] + [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0])
    s = np.linspace(0.99, 0.01, 20)
    m = binary_metrics(y, s)
    assert m["base_rate"] == pytest.approx(0.25)
    assert m["response_top10"] == pytest.approx(0.5)
    assert m["lift_top10"] == pytest.approx(2.0)
    assert m["response_top20"] == pytest.approx(0.75)
    assert m["lift_top20"] == pytest.approx(3.0)


def test_top_k_ties_keep_input_order():
    # Ten rows, top 10% is one row; the two tied top scores go in input order.
    y = np.array([0, 1, 0, 0, 0, 0, 0, 0, 1, 0])
    s = np.array([0.9, 0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    assert binary_metrics(y, s)["response_top10"] == 0.0
    assert binary_metrics(y[[1, 0, *range(2, 10)]], s)["response_top10"] == 1.0


@pytest.mark.parametrize("prevalence", [0.5, 0.05])
def test_matches_sklearn_including_ties(prevalence):
    y, s = _scored(500, prevalence, seed=1)
    for scores in (s, np.round(s, 2)):  # rounding makes many ties
        m = binary_metrics(y, scores)
        assert m["auc"] == pytest.approx(roc_auc_score(y, scores), abs=1e-12)
        assert m["pr_auc"] == pytest.approx(average_precision_score(y, scores), abs=1e-12)
        assert m["log_loss"] == pytest.approx(log_loss(y, scores), abs=1e-12)
    assert set(m) == set(METRIC_NAMES)


def test_log_loss_clips_hard_probabilities():
    y, s = np.array([1, 0]), np.array([0.0, 0.0])
    assert binary_metrics(y, s)["log_loss"] == pytest.approx(-math.log(1e-7) / 2, rel=1e-6)


def test_bad_inputs_raise():
    with pytest.raises(StepstoneError, match="both classes"):
        binary_metrics(np.zeros(5), np.full(5, 0.3))
    with pytest.raises(ValueError):
        binary_metrics(np.array([0, 1]), np.array([0.1, 0.2, 0.3]))
    with pytest.raises(ValueError):
        binary_metrics(np.array([0, 1]), np.array([0.1, 1.2]))
    with pytest.raises(ValueError):
        binary_metrics(np.array([0, 2]), np.array([0.1, 0.2]))


def test_cumulative_gain():
    y = np.array([1, 0, 1, 1] + [0] * 6)
    s = np.linspace(0.9, 0.1, 10)
    population, gain = cumulative_gain(y, s, [10, 50, 100])
    np.testing.assert_allclose(population, [0.1, 0.5, 1.0])
    np.testing.assert_allclose(gain, [1 / 3, 1.0, 1.0])


def test_bootstrap_ci_contains_point_estimate():
    y, s = _scored(2000, 0.5, seed=2)
    point, cis = binary_metrics(y, s), bootstrap_ci(y, s, n_boot=300)
    assert set(cis) == set(METRIC_NAMES)
    for name in METRIC_NAMES:
        lo, hi = cis[name]
        assert lo <= point[name] <= hi, name


def test_bootstrap_ci_narrows_with_more_rows():
    widths = []
    for n in (200, 5000):
        y, s = _scored(n, 0.3, seed=3)
        lo, hi = bootstrap_ci(y, s, n_boot=300)["auc"]
        widths.append(hi - lo)
    assert widths[1] < widths[0] / 2


def test_bootstrap_resample_matches_direct_computation():
    # With one resample the interval collapses to that resample's metrics; draw it ourselves.
    y, s = _scored(300, 0.2, seed=4)
    idx = np.random.default_rng(7).integers(0, 300, size=(1, 300))[0]
    expected = binary_metrics(y[idx], s[idx])
    for name, (lo, hi) in bootstrap_ci(y, s, n_boot=1, seed=7).items():
        assert lo == pytest.approx(expected[name], abs=1e-12), name
        assert hi == pytest.approx(expected[name], abs=1e-12), name


def test_bootstrap_is_reproducible_and_paired_across_arms():
    y, s = _scored(400, 0.5, seed=5)
    a, b = bootstrap_ci(y, s, n_boot=200, seed=1), bootstrap_ci(y, s, n_boot=200, seed=1)
    assert a == b
    other_arm = bootstrap_ci(y, np.clip(s * 0.5, 0, 1), n_boot=200, seed=1)
    assert other_arm["base_rate"] == a["base_rate"]  # same resampled rows


def test_bootstrap_skips_single_class_resamples():
    y = np.array([1] + [0] * 19)  # many resamples miss the one positive
    s = np.linspace(0.9, 0.1, 20)
    cis = bootstrap_ci(y, s, n_boot=200)
    assert cis["auc"] == (1.0, 1.0)
    assert all(math.isfinite(v) for v in cis["lift_top10"])


def test_summarise_seeds_known_values():
    out = summarise_seeds([1.0, 2.0, 3.0, 4.0, 5.0])
    assert out["mean"] == 3.0 and out["min"] == 1.0 and out["max"] == 5.0 and out["n"] == 5
    assert out["std"] == pytest.approx(math.sqrt(2.5))
    # t(0.95, df=4) = 2.131847; half width = 2.131847 * sqrt(2.5) / sqrt(5)
    assert out["ci90_lo"] == pytest.approx(3.0 - 1.507443, abs=1e-5)
    assert out["ci90_hi"] == pytest.approx(3.0 + 1.507443, abs=1e-5)


def test_summarise_seeds_single_value_and_empty():
    out = summarise_seeds([0.7])
    assert out["mean"] == 0.7 and out["n"] == 1 and math.isnan(out["std"])
    assert math.isnan(out["ci90_lo"]) and math.isnan(out["ci90_hi"])
    with pytest.raises(ValueError):
        summarise_seeds([])
