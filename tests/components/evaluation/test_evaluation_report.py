"""Tests for the arm comparison table and its Markdown / text renderings."""

import math

from components.evaluation import comparison_table, to_markdown, to_text

RESULTS = {
    "target_only": {"auc": 0.70, "pr_auc": 0.60, "log_loss": 0.61},
    "transfer": {"auc": 0.80, "pr_auc": 0.75, "log_loss": 0.52},
    "pooled": {"auc": 0.75, "pr_auc": 0.70, "log_loss": 0.55},
    "broken": {"auc": math.nan, "pr_auc": math.nan, "log_loss": 0.9},
}


def test_rows_sorted_by_auc_descending_nan_last():
    table = comparison_table(RESULTS, None)
    assert list(table.index) == ["transfer", "pooled", "target_only", "broken"]
    assert table.index.name == "arm"
    assert list(table.columns) == ["auc", "pr_auc", "log_loss"]


def test_ci_columns_follow_each_metric():
    cis = {arm: {m: (v - 0.01, v + 0.01) for m, v in row.items()} for arm, row in RESULTS.items()}
    cis.pop("broken")  # an arm without intervals gets NaN bounds
    table = comparison_table(RESULTS, cis)
    assert list(table.columns[:3]) == ["auc", "auc_lo", "auc_hi"]
    assert table.loc["transfer", "auc_hi"] == 0.81
    assert math.isnan(table.loc["broken", "log_loss_lo"])


def test_markdown_is_a_pipe_table_with_three_decimals():
    md = to_markdown(comparison_table(RESULTS, None))
    lines = md.strip().split("\n")
    assert lines[0] == "| arm | auc | pr_auc | log_loss |"
    assert lines[1] == "| --- | ---: | ---: | ---: |"
    assert lines[2] == "| transfer | 0.800 | 0.750 | 0.520 |"
    assert lines[-1] == "| broken | nan | nan | 0.900 |"


def test_text_lists_every_arm():
    text = to_text(comparison_table(RESULTS, None))
    assert "0.800" in text and "log_loss" in text
    assert all(arm in text for arm in RESULTS)
