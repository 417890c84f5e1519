"""Tables for a sweep over adaptation arms: one row per arm, one per configuration (mean and
spread over seeds), and the agreement of label-free scorers with the labelled choice."""

from __future__ import annotations

import pandas as pd

from components.evaluation.metrics import summarise_seeds
from components.evaluation.model_selection import SCORERS, agreement


def arms_table(results: list[dict], baseline_auc: float) -> pd.DataFrame:
    """One row per arm: configuration, seed, test metrics, label-free scores, and
    `negative_transfer` when its test AUC is below the target-only baseline's."""
    rows = [
        {
            "arm": r["arm"],
            "config": r["config"],
            "method": r["method"],
            "seed": r["seed"],
            **{k: r["metrics"][k] for k in ("auc", "pr_auc", "lift_top10")},
            **{s: r["scores"][s] for s in SCORERS},
            "negative_transfer": r["metrics"]["auc"] < baseline_auc,
        }
        for r in results
    ]
    return pd.DataFrame(rows).set_index("arm")


def configs_table(arms: pd.DataFrame, criterion: str) -> pd.DataFrame:
    """Per configuration: test AUC mean, std and 90% interval over seeds, mean label-free
    scores, how many seeds transferred negatively, and the rank by `criterion`."""
    rows = {}
    for config, group in arms.groupby("config", sort=False):
        auc = summarise_seeds(group["auc"].tolist())
        rows[config] = {
            "method": group["method"].iloc[0],
            "seeds": len(group),
            "auc_mean": auc["mean"],
            "auc_std": auc["std"],
            "auc_ci90_lo": auc["ci90_lo"],
            "auc_ci90_hi": auc["ci90_hi"],
            **{s: group[s].mean() for s in SCORERS},
            "negative_transfer": f"{int(group['negative_transfer'].sum())}/{len(group)}",
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "config"
    table[f"rank_{criterion}"] = table[criterion].rank(ascending=False, method="min").astype(int)
    return table.sort_values("auc_mean", ascending=False, kind="stable")


def scorer_agreement(configs: pd.DataFrame) -> pd.DataFrame:
    """How each label-free scorer's pick among configurations compares with the pick by
    mean test AUC (which a real run could not make: it reads the target test labels)."""
    return agreement(configs[list(SCORERS)], configs["auc_mean"])
