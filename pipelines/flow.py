"""The stepstone flow: validate -> pretrain_source -> select_intermediate -> adapt_target
-> choose -> evaluate -> register, with one MLflow parent run and a nested run per stage.
`resume=RUN_ID` finishes a killed run (pipelines/resume.py)."""

from __future__ import annotations

import yaml
from prefect import flow, get_run_logger, runtime

from components.errors import StepstoneError
from pipelines import resume as resuming
from pipelines import tracking
from pipelines.config import PipelineConfig, load_config
from pipelines.lineage import git_commit, model_tags
from pipelines.report import log_report
from pipelines.stages.adapt import adapt_target
from pipelines.stages.choose import check_folds, choose_model
from pipelines.stages.evaluate import evaluate
from pipelines.stages.load_data import load_data
from pipelines.stages.pretrain import source_model
from pipelines.stages.register import register
from pipelines.stages.select import select_intermediate
from pipelines.stages.validate import validate
from pipelines.summary import registered_summary

FALLBACK_EXPERIMENT = "stepstone"


def experiment_name(config: PipelineConfig) -> str:
    return f"stepstone-{config.name}"


def _stages(config: PipelineConfig, client, parent_id: str, workdir: str) -> dict:
    """Run the stages in order (the same for every modality); return the run summary."""
    version = load_data(config, workdir)
    logged = client.get_run(parent_id).data.tags.get("data_md5")
    if logged not in (None, version.md5):  # a resumed run whose data changed since
        raise StepstoneError(
            f"the data changed since run {parent_id} started (md5 {logged} -> {version.md5}); "
            "it cannot be resumed: start a new run."
        )
    for key, value in version.tags().items():
        client.set_tag(parent_id, key, value)
    validation = validate(config, workdir, parent_id)
    check_folds(config, workdir)
    source = source_model(config, workdir, parent_id)
    client.set_tag(parent_id, "source_model_uri", source["model_uri"])
    client.set_tag(parent_id, "modality", config.modality)
    client.set_tag(parent_id, "source_cached", str(source["cached"]).lower())
    selection = select_intermediate(config, workdir, parent_id, source["checkpoint"])
    adapted = adapt_target(
        config,
        workdir,
        parent_id,
        source["checkpoint"],
        selection["selection"],
        selection["run_id"],
    )
    chosen = choose_model(
        config, workdir, parent_id, source["checkpoint"], selection["selection"], adapted
    )
    evaluation = evaluate(config, workdir, parent_id, source["checkpoint"], chosen)
    lineage_tags = model_tags(
        client,
        parent_id,
        source["run_id"],
        selection["run_id"],
        adapted["run_id"],
        **({"choice_run_id": chosen["run_id"]} if chosen["run_id"] else {}),
    )
    registered = register(config, workdir, parent_id, source, chosen, evaluation, lineage_tags)
    summary = registered_summary(
        config,
        evaluation,
        registered,
        f"arms on {evaluation['test_rows']} target test rows ({config.modality_impl().metric})",
    )
    summary["registered_model"]["source_model"] = (
        f"{config.registry.model_name}-source/{registered['source_model_version']}"
    )
    return {
        "parent_run_id": parent_id,
        "experiment": experiment_name(config),
        "data": {"md5": version.md5, "dvc_md5": version.dvc_md5, "path": version.path},
        "validation": validation,
        "source": {k: source[k] for k in ("run_id", "cached", "source_digest")},
        "choice": chosen["choice"],
        "cv": chosen["cv"],
        **summary,
    }


@flow(name="stepstone", log_prints=True)
def stepstone(
    config_path: str | None = None, overrides: dict | None = None, resume: str | None = None
) -> dict:
    """Run the whole transitive-transfer pipeline for one scenario YAML; with `resume` (a
    killed run's parent run id, same config) finish that run instead of starting over."""
    client = tracking.configure()
    for run_id in tracking.mark_orphans(client):
        print(f"marked orphaned run {run_id} FAILED (its process is gone)")
    try:
        config = load_config(config_path, overrides)
    except StepstoneError as error:
        # Even a config that cannot be read leaves a FAILED run that says why.
        run_id = tracking.start_parent(
            client, FALLBACK_EXPERIMENT, "invalid-config", {"config_path": str(config_path)}
        )
        tracking.finish(client, run_id, error)
        raise
    if resume:
        parent_id = resuming.reopen(client, resume, config.config_hash())
        client.set_tag(parent_id, "prefect_resumed_flow_run_id", str(runtime.flow_run.id))
    else:
        parent_id = _start(client, config)
    workdir = resuming.run_folder(parent_id)
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        summary = _stages(config, client, parent_id, str(workdir))
        model = summary["registered_model"]
        log_report(parent_id, model["name"], model["version"])  # report/ on the parent run
    except BaseException as error:
        tracking.finish(client, parent_id, error)
        if isinstance(error, StepstoneError):
            resuming.discard(parent_id)  # the same config and data would fail the same way
        else:
            get_run_logger().warning(
                "run %s stopped; finish it with `stepstone run --resume %s`", parent_id, parent_id
            )
        raise
    resuming.discard(parent_id)
    tracking.log_json(summary, "summary.json", run_id=parent_id)
    tracking.finish(client, parent_id)
    return summary


def _start(client, config: PipelineConfig) -> str:
    """A new parent run with the run's config, code version and Prefect flow run."""
    tags = {
        "git_commit": git_commit(),
        "config_hash": config.config_hash(),
        "prefect_flow_run_id": str(runtime.flow_run.id),
        "scenario": config.name,
    }
    parent_id = tracking.start_parent(
        client, experiment_name(config), f"{config.name}-{runtime.flow_run.name}", tags
    )
    tracking.log_json(config.resolved(), "config/resolved.json", run_id=parent_id)
    client.log_text(
        parent_id, yaml.safe_dump(config.resolved(), sort_keys=False), "config/resolved.yaml"
    )
    for key, value in {
        "seed": config.seed,
        "target_labelled": config.target.labelled,
        "selection_method": config.selection.method,
        "adaptation_method": config.adaptation.method,
    }.items():
        client.log_param(parent_id, key, value)
    return parent_id
