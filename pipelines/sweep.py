"""`stepstone sweep`: adaptation methods and transit paths x settings x seeds on one
scenario, for every modality (the grid: pipelines/sweep_grid.py).

The data is loaded and validated, the source model trained and the pool selected ONCE; the
arms then run concurrently through a Prefect task runner, each as a child MLflow run of one
parent run. A comparison table (mean and spread per configuration, label-free scores, a
negative-transfer flag) goes to the terminal, a Prefect table artifact and MLflow. The best
configuration by the criterion (default: cross-validation on the labelled target rows when
they allow the folds, else the label-free DEV) can be registered exactly like a normal run.
"""

from __future__ import annotations

import os
import tempfile

import mlflow
import numpy as np
import yaml
from prefect import flow, runtime
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner

from components.candidates import Candidate
from components.evaluation import to_markdown
from components.evaluation.cv import Fold, make_folds
from components.evaluation.sweep_summary import arms_table, configs_table, scorer_agreement
from components.models import checkpoint
from components.models.training import predict_proba
from pipelines import tracking
from pipelines.config import PipelineConfig, load_config
from pipelines.flow import experiment_name
from pipelines.lineage import git_commit, model_tags
from pipelines.runners import dask_runner
from pipelines.stages.choose import candidate_set, chosen_elsewhere
from pipelines.stages.evaluate import evaluate
from pipelines.stages.load_data import load_data
from pipelines.stages.pretrain import source_model
from pipelines.stages.register import register
from pipelines.stages.select import select_intermediate
from pipelines.stages.validate import validate
from pipelines.stages.workspace import read_split, read_splits
from pipelines.sweep_arm import adapt_arm, hold_out_source
from pipelines.sweep_grid import SweepConfig, SweepSpec, expand_arms


def task_runner(spec: SweepSpec):
    """The Prefect task runner the arms run on."""
    if spec.runner == "threads":
        return ThreadPoolTaskRunner(max_workers=spec.max_workers)
    if spec.runner == "processes":
        return ProcessPoolTaskRunner(max_workers=spec.max_workers)
    return dask_runner(spec.max_workers, spec.dask_address)


def baseline(
    config: PipelineConfig, workdir: str, source_checkpoint: str, selection: str
) -> tuple[str, float]:
    """The reference without transfer and its test metric (for the report's negative-transfer
    flag only): the modality's first candidate without transfer fitted on the labelled target
    rows (target-only logistic regression for tables), or the source model when no target
    row is labelled."""
    modality = config.modality_impl()
    target, test = read_splits(workdir, "target_labelled", "target_test")
    model, encoder = checkpoint.load(source_checkpoint)
    y = modality.labels(encoder, test)
    candidates = candidate_set(config, workdir, source_checkpoint, selection, source_checkpoint)
    plain = [c for c in candidates if isinstance(c, Candidate) and not c.transfer]
    if len(target) and plain:
        name, proba = plain[0].name, plain[0].fit(target).predict_proba(test)
    else:
        name, proba = "source_model", predict_proba(model, encoder.transform(test))
    return name, modality.metrics(y, proba)[modality.metric]


def arm_folds(
    config: SweepConfig, workdir: str, source_checkpoint: str
) -> tuple[str, list[Fold] | None]:
    """The criterion the sweep uses and, for `cv`, the folds of the labelled target rows
    (the same for every arm). `auto` is cv when every class has choice.folds rows."""
    criterion = config.sweep.criterion
    target = read_split(workdir, "target_labelled")
    y = config.modality_impl().labels(checkpoint.load(source_checkpoint)[1], target)
    if criterion == "auto":
        counts = np.unique(y, return_counts=True)[1]
        enough = len(counts) > 1 and counts.min() >= config.choice.folds
        criterion = "cv" if enough else "dev"
        if not enough:
            print(f"too few labelled target rows per class for {config.choice.folds} folds: dev")
    if criterion != "cv":
        return criterion, None
    return criterion, make_folds(y, config.choice.folds, config.choice.repeats, config.seed)


def _report(
    config: SweepConfig,
    results: list[dict],
    reference: tuple[str, float],
    criterion: str,
    parent_id: str,
) -> dict:
    """Build, print and log the arm, configuration and agreement tables."""
    metric = config.modality_impl().metric
    arms = arms_table(results, reference[1], metric)
    configs = configs_table(arms, criterion, metric)
    agree = scorer_agreement(configs, metric)
    shown = configs.round(4)
    text = (
        f"\nsweep {config.name}: {len(arms)} arms, baseline without transfer "
        f"({reference[0]}) test {metric} {reference[1]:.4f}\n"
        f"{to_markdown(shown)}\neach criterion's choice vs the choice by test {metric} "
        f"(regret)\n{to_markdown(agree)}"
    )
    print(text)
    client = mlflow.MlflowClient()
    for name, table in (("arms", arms), ("configs", configs), ("agreement", agree)):
        tracking.log_json(
            table.reset_index().to_dict(orient="records"), f"sweep/{name}.json", parent_id
        )
    client.log_text(parent_id, text, "sweep/comparison.md")
    create_table_artifact(
        key="stepstone-sweep",
        table=shown.reset_index().to_dict(orient="records"),
        description=f"Sweep {config.name}: configurations over seeds, run {parent_id}",
    )
    create_markdown_artifact(key="stepstone-sweep-agreement", markdown=to_markdown(agree))
    return {"arms": arms, "configs": configs, "agreement": agree, "text": text, "metric": metric}


def _register_best(
    config, workdir, parent_id, source, selection, best: dict, criterion: str, client
) -> dict:
    """Log the best arm as a pyfunc in its child run, then evaluate and register it with
    the normal stages."""
    from pipelines.packaging import log_scorer

    with mlflow.start_run(run_id=best["run_id"], nested=True):
        info = log_scorer(best["checkpoint"], read_split(workdir, "source"))
    chosen = chosen_elsewhere(
        config,
        workdir,
        source["checkpoint"],
        selection["selection"],
        {
            "checkpoint": best["checkpoint"],
            "model_uri": info.model_uri,
            "reason": f"best sweep arm {best['arm']} by {criterion}",
        },
    )
    evaluation = evaluate(config, workdir, parent_id, source["checkpoint"], chosen)
    tags = model_tags(
        client,
        parent_id,
        source["run_id"],
        selection["run_id"],
        best["run_id"],
        sweep_arm=best["arm"],
    )
    return register(config, workdir, parent_id, source, chosen, evaluation, tags)


def _run(config: SweepConfig, client, parent_id: str, workdir: str) -> dict:
    arms = expand_arms(config)
    version = load_data(config, workdir)
    for key, value in version.tags().items():
        client.set_tag(parent_id, key, value)
    client.log_param(
        parent_id, "source_val_rows", hold_out_source(config, workdir, config.sweep.validation_rows)
    )
    validate(config, workdir, parent_id)
    source = source_model(config, workdir, parent_id)
    client.set_tag(parent_id, "source_model_uri", source["model_uri"])
    selection = select_intermediate(config, workdir, parent_id, source["checkpoint"])
    criterion, folds = arm_folds(config, workdir, source["checkpoint"])
    client.set_tag(parent_id, "criterion", criterion)
    threads = max(1, (os.cpu_count() or 1) // config.sweep.max_workers)
    futures = [
        adapt_arm.submit(
            workdir,
            parent_id,
            source["checkpoint"],
            selection["selection"],
            arm,
            config.sweep.source_rows,
            threads,
            folds,
        )
        for arm in arms
    ]
    results = [f.result() for f in futures]
    reference = baseline(config, workdir, source["checkpoint"], selection["selection"])
    report = _report(config, results, reference, criterion, parent_id)
    best_config = report["configs"][criterion].idxmax()
    best = min((r for r in results if r["config"] == best_config), key=lambda r: r["seed"])
    client.set_tag(parent_id, "best_config", best_config)
    registered = None
    if config.sweep.register_best:
        registered = _register_best(
            config, workdir, parent_id, source, selection, best, criterion, client
        )
        print(
            f"registered {registered['model_name']} v{registered['version']} "
            f"aliases={registered['aliases']} (best by {criterion}: {best['arm']}): "
            f"{registered['reason']}"
        )
    return {
        "parent_run_id": parent_id,
        "experiment": experiment_name(config),
        "criterion": criterion,
        "best_config": best_config,
        "best_arm": best["arm"],
        "baseline": {"name": reference[0], "metric": report["metric"], "value": reference[1]},
        "arms": report["arms"].reset_index().to_dict(orient="records"),
        "configs": report["configs"].reset_index().to_dict(orient="records"),
        "agreement": report["agreement"].reset_index().to_dict(orient="records"),
        "worker_pids": sorted({r["pid"] for r in results}),
        "registered_model": registered,
        "table": report["text"],
    }


@flow(name="stepstone-sweep", log_prints=True)
def sweep(config_path: str, overrides: dict | None = None) -> dict:
    """Sweep adaptation arms for one scenario (see the module docstring)."""
    client = tracking.configure()
    config = load_config(config_path, overrides, schema=SweepConfig)
    tags = {
        "git_commit": git_commit(),
        "config_hash": config.config_hash(),
        "prefect_flow_run_id": str(runtime.flow_run.id),
        "scenario": config.name,
        "flow": "sweep",
    }
    parent_id = tracking.start_parent(
        client, experiment_name(config), f"{config.name}-sweep-{runtime.flow_run.name}", tags
    )
    with tracking.finishing(client, parent_id):
        tracking.log_json(config.resolved(), "config/resolved.json", run_id=parent_id)
        client.log_text(parent_id, yaml.safe_dump(config.resolved()), "config/resolved.yaml")
        with tempfile.TemporaryDirectory(prefix="stepstone-sweep-") as workdir:
            return _run(config, client, parent_id, workdir)


def run_sweep(config_path: str, overrides: dict | None = None) -> dict:
    """Read the sweep section first so the flow runs on the configured task runner."""
    config = load_config(config_path, overrides, schema=SweepConfig)
    expand_arms(config)  # bad grids fail before any Prefect or MLflow work
    return sweep.with_options(task_runner=task_runner(config.sweep))(config_path, overrides)
