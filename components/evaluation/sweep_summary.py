"""Tables for a sweep over adaptation arms: one row per arm, one per configuration (mean and
spread over seeds), and the agreement of label-free scorers with the labelled choice."""

from __future__ import annotations

import pandas as pd

from components.evaluation.metrics import summarise_seeds
from components.evaluation.model_selection import SCORERS, agreement

CRITERIA = ("cv", *SCORERS)  # cv: on the labelled target rows; the others are label-free


def _criteria(table: pd.DataFrame) -> list[str]:
    return [c for c in CRITERIA if c in table.columns]


def arms_table(results: list[dict], baseline: float, metric: str) -> pd.DataFrame:
    """One row per arm: configuration, method or path, seed, test metrics, label-free
    scores, and `negative_transfer` when its test `metric` is below the baseline's."""
    rows = [
        {
            "arm": r["arm"],
            "config": r["config"],
            "method": r["method"],
            "path": r["path"],
            "seed": r["seed"],
            **r["metrics"],
            **{s: r["scores"][s] for s in CRITERIA if s in r["scores"]},
            "negative_transfer": r["metrics"][metric] < baseline,
        }
        for r in results
    ]
    return pd.DataFrame(rows).set_index("arm")


def configs_table(arms: pd.DataFrame, criterion: str, metric: str) -> pd.DataFrame:
    """Per configuration: the test `metric`'s mean, std and 90% interval over seeds, the mean
    CV estimate and label-free scores, how many seeds transferred negatively, and the rank
    by `criterion`."""
    rows = {}
    for config, group in arms.groupby("config", sort=False):
        summary = summarise_seeds(group[metric].tolist())
        rows[config] = {
            "method": group["method"].iloc[0],
            "path": group["path"].iloc[0],
            "seeds": len(group),
            **{f"{metric}_{k}": summary[k] for k in ("mean", "std", "ci90_lo", "ci90_hi")},
            **{s: group[s].mean() for s in _criteria(arms)},
            "negative_transfer": f"{int(group['negative_transfer'].sum())}/{len(group)}",
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "config"
    table[f"rank_{criterion}"] = table[criterion].rank(ascending=False, method="min").astype(int)
    return table.sort_values(f"{metric}_mean", ascending=False, kind="stable")


def scorer_agreement(configs: pd.DataFrame, metric: str) -> pd.DataFrame:
    """How each criterion's pick among configurations (the CV estimate, each label-free
    scorer) compares with the pick by the mean test `metric` (which a real run could not
    make: it reads the target test labels): the regret of each."""
    return agreement(configs[_criteria(configs)], configs[f"{metric}_mean"])
