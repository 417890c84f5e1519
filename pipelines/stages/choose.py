"""Stage 5: choose the model to register among the candidates (baselines without transfer,
transfer recipes, the adapted network) by cross-validation on the labelled target rows;
refit every candidate on all labelled rows and log the chosen one as a pyfunc."""

from __future__ import annotations

import copy
from dataclasses import asdict
from pathlib import Path

import joblib
import mlflow
import pandas as pd
from prefect import task
from prefect.artifacts import create_markdown_artifact

from components import progress
from components.candidates import Blend, Candidate, NetworkPredictor, Predictor
from components.candidates.base import MeanPredictor
from components.candidates.lanes import run_in_lanes
from components.errors import StepstoneError
from components.evaluation import to_markdown
from components.evaluation.cv import (
    Choice,
    choose,
    cross_validate,
    make_folds,
    oof_frame,
    paired_se,
)
from components.models import checkpoint
from pipelines.config import PipelineConfig
from pipelines.packaging import log_scorer
from pipelines.resume import STAGE_CACHE
from pipelines.retries import STAGE_RETRIES
from pipelines.stages.adapt import network_recipe
from pipelines.stages.workspace import read_split, read_splits
from pipelines.tracking import log_json, stage_run


def candidate_set(
    config: PipelineConfig, workdir: str, source_checkpoint: str, selection: str, adapted: str
) -> list[Candidate | Blend]:
    """The adapted network (`transfer`: the configured method and path, retrained on a
    fold's rows; on all labelled rows it is stage 4's model) and the modality's own
    candidates (or, for a modality without any, a network trained on the target rows
    alone), restricted to choice.candidates when given."""
    modality = config.modality_impl()
    recipe = network_recipe(config, workdir, source_checkpoint, selection)
    target = read_split(workdir, "target_labelled")
    final = NetworkPredictor(*checkpoint.load(adapted))

    def network(rows: pd.DataFrame) -> Predictor:
        if len(rows) == len(target) and set(rows["row_id"]) == set(target["row_id"]):
            return final
        model, _ = recipe.fit(rows)
        return NetworkPredictor(model.cpu(), recipe.encoder)

    candidates: list[Candidate | Blend] = [Candidate("transfer", True, network)]
    if len(target):
        source, pool = read_splits(workdir, "source", "intermediate")
        scores = pd.read_parquet(selection).set_index("row_id")["score"]
        candidates += modality.candidates(
            source,
            pool,
            scores.reindex(pool["row_id"]).to_numpy(),
            copy.deepcopy(recipe.source_model).cpu(),
            recipe.encoder,
            config.seed,
        ) or [
            Candidate(
                "network_target_only",
                False,
                lambda rows: NetworkPredictor(recipe.fit_fresh(rows), recipe.encoder),
            )
        ]
    wanted = config.choice.candidates
    return [c for c in candidates if wanted is None or c.name in wanted]


def refit_all(candidates: list[Candidate | Blend], target: pd.DataFrame, workdir: str):
    """Every candidate fitted on all labelled target rows, saved under workdir/candidates;
    returns name -> path and name -> why it failed."""
    folder = Path(workdir) / "candidates"
    folder.mkdir(exist_ok=True)
    fitted: dict[str, Predictor] = {}
    failed: dict[str, str] = {}

    def refit(candidate: Candidate | Blend) -> None:
        try:
            if isinstance(candidate, Blend):
                fitted[candidate.name] = MeanPredictor([fitted[m] for m in candidate.members])
            else:
                fitted[candidate.name] = candidate.fit(target)
        except Exception as exc:  # noqa: BLE001 - reported and skipped, as in the CV
            failed[candidate.name] = f"{type(exc).__name__}: {exc}"

    run_in_lanes(candidates, refit)
    paths = {c.name: str(folder / f"{c.name}.joblib") for c in candidates if c.name in fitted}
    for name, path in paths.items():
        joblib.dump(fitted[name], path)
    return paths, failed


def label_free(config: PipelineConfig, n_labelled: int) -> Choice:
    """Too few labels for the folds (or label-free asked for): the configured transfer
    recipe is registered, and the reason says so."""
    why = (
        "choice.criterion is label_free"
        if config.choice.criterion == "label_free"
        else f"{n_labelled} labelled target rows < choice.min_labelled "
        f"{config.choice.min_labelled}, too few for {config.choice.folds}-fold CV"
    )
    return Choice(
        "transfer",
        True,
        "",
        float("nan"),
        f"{why}: registered the configured "
        f"transfer recipe ({config.adaptation.method}, {config.transit.path} path) "
        "without a labelled choice",
    )


def uses_cv(config: PipelineConfig) -> bool:
    return config.choice.criterion == "cv" and config.target.labelled >= config.choice.min_labelled


def check_folds(config: PipelineConfig, workdir: str) -> None:
    """Before any training: the labelled target rows can fill config.choice.folds folds."""
    if uses_cv(config):
        target = read_split(workdir, "target_labelled")
        y = target[config.modality_impl().label_column].astype(str).to_numpy()
        make_folds(y, config.choice.folds, 1, config.seed)


@task(name="choose", **STAGE_RETRIES, **STAGE_CACHE)
def choose_model(
    config: PipelineConfig,
    workdir: str,
    parent_run_id: str,
    source_checkpoint: str,
    selection: str,
    adapted: dict,
) -> dict:
    """Cross-validate the candidates on the labelled target rows, choose one (with the
    negative-transfer guard), refit all on every labelled row and log the chosen one."""
    modality = config.modality_impl()
    target = read_split(workdir, "target_labelled")
    candidates = candidate_set(config, workdir, source_checkpoint, selection, adapted["checkpoint"])
    with stage_run(parent_run_id, "choose") as run, progress.silenced():
        cv = None
        if len(candidates) == 1:
            only = candidates[0]
            choice = Choice(only.name, only.transfer, "", float("nan"), "the only candidate")
        elif uses_cv(config):
            _, encoder = checkpoint.load(source_checkpoint)
            y = modality.labels(encoder, target)
            folds = make_folds(y, config.choice.folds, config.choice.repeats, config.seed)
            metric = lambda yy, p: modality.metrics(yy, p)[modality.metric]
            cv = cross_validate(
                candidates,
                target,
                y,
                metric,
                folds,
                race_se=config.choice.race_se,
                keep=config.preferred(),
                seed=config.seed,
            )
            if cv.table.empty:
                raise StepstoneError(
                    f"no candidate could be trained on the labelled target rows: {cv.failed}"
                )
            choice = choose(
                cv.table,
                lambda a, b: paired_se(y, cv.oof[a], cv.oof[b], metric, seed=config.seed),
                config.preferred(),
                config.choice.tolerance_se,
                modality.metric,
            )
            log_json(
                [{"held_out_row_ids": target["row_id"].iloc[f.held_out].tolist()} for f in folds],
                "choice/folds.json",
            )
        else:
            choice = label_free(config, len(target))
        paths, failed = refit_all(candidates, target, workdir)
        failed = {**(cv.failed if cv else {}), **failed}
        if choice.name not in paths:
            raise StepstoneError(f"the chosen candidate {choice.name} failed to refit: {failed}")
        if choice.name == "transfer":
            model_uri = adapted["model_uri"]
        else:
            model_uri = log_scorer(Path(paths[choice.name]), target).model_uri
        table = (
            cv.table[["mean", "se", "repeats", "transfer", "seconds", "members"]]
            if cv
            else pd.DataFrame()
        )
        text = choice_text(choice, table, failed, modality.metric)
        print(text)
        mlflow.log_text(text, "choice/choice.md")
        log_json({**asdict(choice), "failed": failed}, "choice/choice.json")
        mlflow.log_params({"chosen_candidate": choice.name, "chosen_transfer": choice.transfer})
        if cv:
            mlflow.log_table(cv.table.reset_index(), "choice/cv.json")
            predictions = oof_frame(cv, target["row_id"].to_numpy(), y)
            mlflow.log_text(predictions.to_csv(index=False), "choice/cv_predictions.csv")
            mlflow.log_metrics(
                {f"cv_{modality.metric}_{n}": float(v) for n, v in cv.table["mean"].items()}
            )
        create_markdown_artifact(key="stepstone-choice", markdown=text)
        return result(run.info.run_id, choice, model_uri, paths, failed, table)


def result(run_id, choice: Choice, model_uri: str, paths: dict, failed: dict, table) -> dict:
    """What the choose stage hands on: the choice, the model to register, every refitted
    candidate's file, the failures and the CV estimates (empty without a CV)."""
    return {
        "run_id": run_id,
        "choice": asdict(choice),
        "model_uri": model_uri,
        "candidates": paths,
        "failed": failed,
        "cv": {
            n: {
                "mean": float(r["mean"]),
                "se": float(r["se"]),
                "transfer": bool(r["transfer"]),
                "seconds": float(r["seconds"]),
                "repeats": int(r["repeats"]),
                "members": [m for m in r["members"].split(",") if m],
            }
            for n, r in table.iterrows()
        },
    }


def choice_text(choice: Choice, table: pd.DataFrame, failed: dict, metric: str) -> str:
    """The CV table, the failures and the choice in words (printed and logged)."""
    lines = []
    if not table.empty:
        shown = table.drop(columns="members").astype({"mean": float, "se": float})
        shown = shown.sort_values("mean", ascending=False)
        shown.columns = [f"cv_{metric}", f"cv_{metric}_se", "cv_repeats", "transfer", "cv_seconds"]
        lines.append(to_markdown(shown.round(4)))
    lines += [f"candidate {name} skipped: {why}" for name, why in failed.items()]
    lines.append(f"chose {choice.name}: {choice.reason}")
    return "\n".join(lines)


def chosen_elsewhere(
    config: PipelineConfig, workdir: str, source_checkpoint: str, selection: str, chosen: dict
) -> dict:
    """A choose-stage result for a network chosen by other means (the sweep's best arm,
    `chosen` = its checkpoint, model_uri and the reason): every other candidate is still
    refitted, so the evaluation table shows the same references."""
    candidates = candidate_set(config, workdir, source_checkpoint, selection, chosen["checkpoint"])
    paths, failed = refit_all(candidates, read_split(workdir, "target_labelled"), workdir)
    choice = Choice("transfer", True, "", float("nan"), chosen["reason"])
    return result(None, choice, chosen["model_uri"], paths, failed, pd.DataFrame())
