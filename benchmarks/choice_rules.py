"""Replay the choice under other rules on runs already made (binary tables, AUC): for each
seed in a store kept by `loan_marketing.py --store DIR`, read the choose stage's out-of-fold
predictions (`choice/cv_predictions.csv`) and the run's test metrics (`summary-<seed>.json`),
and ask `components.evaluation.cv.choose` what it would register under each `choice.prefer` x
`choice.tolerance_se` x `choice.race_se`, on all the CV repeats the runs made or on the
first alone (`--repeats first`: the choice `choice.repeats: 1` makes, since a repeated
k-fold's first repeat is the same split whatever the number of repeats). No training: the
same CV predictions, the product's own rule. The test rows score the rules here, so a
default picked from this table is picked with them in view. Prints one JSON line.

    uv run python benchmarks/loan_marketing.py --store /tmp/loan
    uv run python benchmarks/choice_rules.py /tmp/loan [--tolerance 0 1 2 3] [--race none 2 3]
        [--repeats all first]
"""

from __future__ import annotations

import argparse
import json
import os
from itertools import product
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from loan_marketing import against_baselines  # benchmarks/loan_marketing.py, beside this file
from mlflow.tracking import MlflowClient
from sklearn.metrics import roc_auc_score

from components.candidates import Blend, Candidate
from components.evaluation.cv import choose, paired_se, raced_out, repeat_scores

PREFERENCES = {
    "blend_all, lgbm_pooled": ("blend_all", "lgbm_pooled"),
    "blend_all": ("blend_all",),
    "none": (),
}
COLUMNS = ("repeat", "row_id", "label")


def cv_predictions(client: MlflowClient) -> dict[int, pd.DataFrame]:
    """Seed -> the choose stage's out-of-fold predictions, for every run in the store."""
    experiments = [e.experiment_id for e in client.search_experiments()]
    out = {}
    for run in client.search_runs(experiments, "tags.stage = 'choose'"):
        seed = int(client.get_run(run.data.tags["mlflow.parentRunId"]).data.params["seed"])
        uri = f"runs:/{run.info.run_id}/choice/cv_predictions.csv"
        out[seed] = pd.read_csv(mlflow.artifacts.download_artifacts(uri))
    return out


def replay(predictions: pd.DataFrame, cv: dict, seed: int, prefer, tolerance, race) -> str:
    """The candidate `choose` registers from these out-of-fold predictions (`cv`: the run
    summary's CV entries), racing with `race` SEs (None: no racing) as `cross_validate`
    would: a candidate `raced_out` after the first repeat keeps only that repeat."""
    repeats = sorted(predictions["repeat"].unique())
    y = predictions.loc[predictions["repeat"] == repeats[0], "label"].to_numpy()
    names = [c for c in predictions.columns if c not in COLUMNS]
    by_repeat = {
        n: [predictions.loc[predictions["repeat"] == r, n] for r in repeats] for n in names
    }
    # a candidate raced out after the first repeat has NaN in the later ones
    oof = {
        n: np.stack([p.to_numpy() for p in ps if p.notna().all()]) for n, ps in by_repeat.items()
    }
    if race is not None:
        candidates = [
            Blend(n, tuple(c["members"])) if c["members"] else Candidate(n, c["transfer"], None)
            for n, c in cv.items()
        ]
        first = {n: o[:1] for n, o in oof.items()}
        for n in raced_out(candidates, first, y, roc_auc_score, race, prefer, seed):
            oof[n] = first[n]
    table = pd.DataFrame(
        {
            "mean": {n: np.mean(repeat_scores(y, oof[n], roc_auc_score)) for n in names},
            "transfer": {n: cv[n]["transfer"] for n in names},
        }
    )
    se = lambda a, b: paired_se(y, oof[a], oof[b], roc_auc_score, seed=seed)
    return choose(table, se, prefer, tolerance).name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("store", type=Path, help="a store kept by loan_marketing.py --store")
    parser.add_argument("--tolerance", type=float, nargs="+", default=[0.0, 1.0, 1.5, 2.0, 3.0])
    parser.add_argument(
        "--race", nargs="+", default=["none"], help="choice.race_se values ('none': no racing)"
    )
    parser.add_argument(
        "--repeats",
        nargs="+",
        choices=["all", "first"],
        default=["all"],
        help="the CV repeats a rule sees: all the runs made, or the first alone",
    )
    args = parser.parse_args()
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    mlflow.set_tracking_uri(f"sqlite:///{args.store.resolve() / 'mlflow.db'}")
    predictions = cv_predictions(MlflowClient())
    seeds = sorted(predictions)
    summaries = {s: json.loads((args.store / f"summary-{s}.json").read_text()) for s in seeds}
    arms = set.intersection(*(set(summaries[s]["metrics"]) for s in seeds))
    auc = {a: np.array([summaries[s]["metrics"][a]["auc"] for s in seeds]) for a in arms}
    rules = []
    races = [None if r == "none" else float(r) for r in args.race]
    grid = product(args.repeats, PREFERENCES.items(), args.tolerance, races)
    for repeats, (label, prefer), tolerance, race in grid:
        seen = {s: p if repeats == "all" else p[p["repeat"] == 0] for s, p in predictions.items()}
        chosen = [replay(seen[s], summaries[s]["cv"], s, prefer, tolerance, race) for s in seeds]
        registered = np.array([auc[c][i] for i, c in enumerate(chosen)])
        rules.append(
            {
                "repeats": repeats,
                "prefer": label,
                "tolerance_se": tolerance,
                "race_se": race,
                **against_baselines(registered, auc),
                "chosen_per_seed": chosen,
            }
        )
    print(
        json.dumps(
            {"benchmark": "choice_rules", "store": str(args.store), "seeds": seeds, "rules": rules}
        )
    )


if __name__ == "__main__":
    main()
