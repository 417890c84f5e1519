"""`stepstone sweep`: adaptation methods x hyperparameters x seeds on one scenario.

The data is loaded and validated, the source model trained and the pool selected ONCE; the
arms then run concurrently through a Prefect task runner, each as a child MLflow run of one
parent run. A comparison table (mean and spread per configuration, label-free scores, a
negative-transfer flag) goes to the terminal, a Prefect table artifact and MLflow. The best
configuration by the criterion (default: cross-validation on the labelled target rows when
they allow the folds, else the label-free DEV) can be registered exactly like a normal run.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from typing import Any, Literal

import mlflow
import yaml
from prefect import flow, runtime
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner
from pydantic import Field, ValidationError

from components.adaptation import ADAPTERS, NEEDS, AdaptSpec
from components.candidates.linear import logistic_baseline
from components.data.preprocess import encode_labels
from components.errors import StepstoneError
from components.evaluation import binary_metrics, to_markdown
from components.evaluation.cv import Fold, make_folds
from components.evaluation.sweep_summary import arms_table, configs_table, scorer_agreement
from pipelines import tracking
from pipelines.config import PipelineConfig, Strict, load_config
from pipelines.flow import experiment_name
from pipelines.lineage import git_commit, model_tags
from pipelines.runners import dask_runner
from pipelines.stages.choose import chosen_elsewhere
from pipelines.stages.evaluate import evaluate
from pipelines.stages.load_data import load_data
from pipelines.stages.pretrain import source_model
from pipelines.stages.register import register
from pipelines.stages.select import select_intermediate
from pipelines.stages.validate import validate
from pipelines.stages.workspace import read_splits
from pipelines.sweep_arm import adapt_arm, hold_out_source

Runner = Literal["threads", "processes", "dask"]


class SweepSpec(Strict):
    """The grid and how to run it. `methods` maps a method name to lists of values for
    `adaptation` keys (their product is swept; unset keys keep the scenario's values)."""

    methods: dict[str, dict[str, list[Any]]] = Field(
        default_factory=lambda: {"source_only": {}, "finetune": {}, "l2sp": {}}
    )
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], min_length=1)
    # cv: each arm's repeated k-fold estimate on the labelled target rows (choice.folds x
    # choice.repeats); the rest are label-free. auto: cv when the labels allow the folds.
    criterion: Literal["auto", "cv", "iwv", "dev", "entropy", "snd"] = "auto"
    runner: Runner = "threads"
    max_workers: int = Field(2, ge=1)
    dask_address: str | None = None  # a running Dask scheduler; None starts a local cluster
    source_rows: int = Field(5000, ge=0)  # source rows given to arms that train on it; 0 = all
    validation_rows: int = Field(2000, ge=10)  # held-out source rows for IWV / DEV
    register_best: bool = True


class SweepConfig(PipelineConfig):
    """A scenario plus its `sweep` section."""

    sweep: SweepSpec = SweepSpec()


def expand_arms(config: SweepConfig) -> list[dict]:
    """Every (method, hyperparameter setting, seed), validated before anything trains."""
    arms = []
    for method, grid in config.sweep.methods.items():
        if method not in ADAPTERS:
            raise StepstoneError(
                f"sweep.methods has unknown method {method!r}; valid: {sorted(ADAPTERS)}."
            )
        if "unlabelled" in NEEDS[method] and config.target.unlabelled == 0:
            raise StepstoneError(
                f"sweep method {method!r} needs unlabelled target rows; set target.unlabelled "
                "> 0 in the scenario YAML (those rows lose their labels and leave the test set)."
            )
        keys = sorted(grid)
        for values in itertools.product(*(grid[k] for k in keys)):
            params = dict(zip(keys, values))
            base = config.adaptation.model_dump()
            try:
                spec = AdaptSpec.model_validate({**base, **params, "method": method})
            except ValidationError as exc:
                where = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
                raise StepstoneError(
                    f"sweep.methods.{method}: bad setting {params} ({where}): "
                    f"{exc.errors()[0]['msg']}. Keys must be adaptation settings."
                ) from exc
            name = method + (
                "[" + ",".join(f"{k}={v}" for k, v in params.items()) + "]" if params else ""
            )
            for seed in config.sweep.seeds:
                arms.append(
                    {
                        "id": f"{name}/seed{seed}",
                        "config": name,
                        "seed": seed,
                        "params": params,
                        "spec": spec.model_dump(mode="json"),
                    }
                )
    return arms


def task_runner(spec: SweepSpec):
    """The Prefect task runner the arms run on."""
    if spec.runner == "threads":
        return ThreadPoolTaskRunner(max_workers=spec.max_workers)
    if spec.runner == "processes":
        return ProcessPoolTaskRunner(max_workers=spec.max_workers)
    return dask_runner(spec.max_workers, spec.dask_address)


def _target_only_auc(config: PipelineConfig, workdir: str) -> float:
    """Test AUC of the target-only baseline (logistic regression on the labelled target)."""
    target, test = read_splits(workdir, "target_labelled", "target_test")
    scores = logistic_baseline(target, config.schema, config.seed).predict_proba(
        test[config.schema.feature_columns]
    )[:, 1]
    return binary_metrics(encode_labels(test, config.schema), scores)["auc"]


def arm_folds(config: SweepConfig, workdir: str) -> tuple[str, list[Fold] | None]:
    """The criterion the sweep uses and, for `cv`, the folds of the labelled target rows
    (the same for every arm). `auto` is cv when every class has choice.folds rows."""
    criterion = config.sweep.criterion
    (target,) = read_splits(workdir, "target_labelled")
    y = encode_labels(target, config.schema)
    if criterion == "auto":
        enough = min(int((y == 1).sum()), int((y == 0).sum())) >= config.choice.folds
        criterion = "cv" if enough else "dev"
        if not enough:
            print(f"too few labelled target rows per class for {config.choice.folds} folds: dev")
    if criterion != "cv":
        return criterion, None
    return criterion, make_folds(y, config.choice.folds, config.choice.repeats, config.seed)


def _report(
    config: SweepConfig, results: list[dict], baseline: float, criterion: str, parent_id: str
) -> dict:
    """Build, print and log the arm, configuration and agreement tables."""
    arms = arms_table(results, baseline)
    configs = configs_table(arms, criterion)
    agree = scorer_agreement(configs)
    shown = configs.round(4)
    text = (
        f"\nsweep {config.name}: {len(arms)} arms, target-only baseline AUC {baseline:.4f}\n"
        f"{to_markdown(shown)}\neach criterion's choice vs the choice by test AUC (regret)\n"
        f"{to_markdown(agree)}"
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
    return {"arms": arms, "configs": configs, "agreement": agree, "text": text}


def _register_best(
    config, workdir, parent_id, source, selection, best: dict, criterion: str, client
) -> dict:
    """Log the best arm as a pyfunc in its child run, then evaluate and register it with
    the normal stages."""
    from pipelines.packaging import log_scorer

    (target,) = read_splits(workdir, "target_labelled")
    with mlflow.start_run(run_id=best["run_id"], nested=True):
        info = log_scorer(best["checkpoint"], target)
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
    criterion, folds = arm_folds(config, workdir)
    client.set_tag(parent_id, "criterion", criterion)
    threads = max(1, (os.cpu_count() or 1) // config.sweep.max_workers)
    futures = [
        adapt_arm.submit(
            config,
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
    baseline = _target_only_auc(config, workdir)
    report = _report(config, results, baseline, criterion, parent_id)
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
        "target_only_auc": baseline,
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
    if config.modality != "tabular":
        raise StepstoneError(
            f"stepstone sweep compares arms on tabular scenarios only (this one is "
            f"{config.modality}); run each method with `stepstone run` and adaptation.method."
        )
    expand_arms(config)  # bad grids fail before any Prefect or MLflow work
    return sweep.with_options(task_runner=task_runner(config.sweep))(config_path, overrides)
