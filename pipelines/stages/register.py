"""Stage 6: register the adapted model as `challenger`; promote it to `champion` only if it
beats the current champion (or, for the first version, the target-only baseline) on this
run's target test rows."""

from __future__ import annotations

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from prefect import task

from components.errors import StepstoneError
from components.models import checkpoint
from pipelines.config import PipelineConfig
from pipelines.stages.workspace import read_split
from pipelines.tracking import promotion_lock, stage_run


def champion_output(client: MlflowClient, name: str, inputs) -> tuple[str | None, object]:
    """The current champion's version and its pyfunc output on `inputs` (None, None if there
    is no champion). A champion that cannot score them stops the run: nothing is registered."""
    try:
        version = client.get_model_version_by_alias(name, "champion")
    except MlflowException:
        return None, None
    try:
        return version.version, mlflow.pyfunc.load_model(f"models:/{name}@champion").predict(inputs)
    except Exception as exc:  # unloadable (older code) or incompatible with the new data
        raise StepstoneError(
            f"the current champion {name} v{version.version} cannot score this run's test rows "
            f"({type(exc).__name__}: {exc}). Nothing was registered. Move or delete the "
            f"'champion' alias (MlflowClient().delete_registered_model_alias) to start afresh."
        ) from exc


def champion_score(
    client: MlflowClient, name: str, config: PipelineConfig, workdir: str, checkpoint_path: str
) -> tuple[str | None, float | None]:
    """The current champion's version and its headline metric on this run's test rows
    (None, None if there is no champion)."""
    test = read_split(workdir, "target_test")
    modality, (_, encoder) = config.modality_impl(), checkpoint.load(checkpoint_path)
    version, output = champion_output(client, name, test[encoder.columns])
    if version is None:
        return None, None
    y = modality.labels(encoder, test)
    return version, modality.metrics(y, modality.proba_of(output))[modality.metric]


def decide(
    challenger: float,
    baseline: float,
    champion: float | None,
    metric: str = "AUC",
    baseline_name: str = "target-only",
) -> tuple[bool, str]:
    """Promote only a model that beats the bar (the champion, or first the baseline); say why."""
    bar, against, where = (
        (baseline, baseline_name, "")
        if champion is None
        else (champion, "champion", " on the same test rows")
    )
    ok = challenger > bar
    first = "first version: " if champion is None else ""
    return (
        ok,
        f"{first}challenger {metric} {challenger:.4f} {'>' if ok else '<='} {against} {bar:.4f}{where}",
    )


def register_source(client: MlflowClient, name: str, source: dict, tags: dict[str, str]) -> str:
    """Register the source model once per source run; return its version."""
    for found in client.search_model_versions(f"name = '{name}' and run_id = '{source['run_id']}'"):
        return found.version
    return mlflow.register_model(source["model_uri"], name, tags=tags).version


def publish(
    client: MlflowClient,
    name: str,
    source: dict,
    adapted_uri: str,
    tags: dict[str, str],
    decision: dict,
    parent_run_id: str,
) -> dict:
    """Register the source model (once per source run) and the adapted model with lineage
    tags; alias `challenger`, and `champion` when `decision["promoted"]`; log the decision
    on the active stage run and tag the parent run. Returns the decision with the version,
    its aliases and the source version."""
    source_version = register_source(client, f"{name}-source", source, tags)
    tags = {**tags, "source_model_version": f"{name}-source/{source_version}"}
    version = mlflow.register_model(adapted_uri, name, tags=tags).version
    client.set_registered_model_alias(name, "challenger", version)
    if decision["promoted"]:
        client.set_registered_model_alias(name, "champion", version)
    decision = {"model_name": name, "version": version, **decision}
    mlflow.log_dict(decision, "registry/decision.json")
    client.set_tag(parent_run_id, "registered_model", f"{name}/{version}")
    client.set_tag(parent_run_id, "promoted", str(decision["promoted"]).lower())
    aliases = list(client.get_model_version(name, version).aliases)
    return {**decision, "aliases": aliases, "source_model_version": source_version}


def first_bar(metrics: dict, choice: dict) -> str:
    """The arm a first version must beat: the best candidate without transfer by CV (the
    target-only baseline when no CV ran, or the source model without labelled rows)."""
    if choice.get("baseline"):
        return choice["baseline"]
    return "target_only" if "target_only" in metrics else "source_model"


@task(name="register")
def register(
    config: PipelineConfig,
    workdir: str,
    parent_run_id: str,
    source: dict,
    chosen: dict,
    evaluation: dict,
    lineage_tags: dict[str, str],
) -> dict:
    """Register source and chosen models with lineage tags; move aliases; log the decision.
    A first version is promoted when it is the best candidate without transfer, or beats it
    on the scenario's headline metric; a later one when it beats the champion."""
    client = MlflowClient()
    name, metric = config.registry.model_name, config.modality_impl().metric
    metrics, choice = evaluation["metrics"], chosen["choice"]
    bar = first_bar(metrics, choice)
    label = "AUC" if metric == "auc" else metric
    with stage_run(parent_run_id, "register"), promotion_lock(client, name):
        champion_version, champion = champion_score(
            client, name, config, workdir, source["checkpoint"]
        )
        challenger = metrics[choice["name"]][metric]
        if champion is None and choice["name"] == bar:
            promote, reason = (
                True,
                (
                    f"first version: {bar} is the best candidate without transfer "
                    f"({label} {challenger:.4f} on the test rows); {choice['reason']}"
                ),
            )
        else:
            promote, reason = decide(
                challenger, metrics[bar][metric], champion, label, bar.replace("_", "-")
            )
        decision = {
            "promoted": promote,
            "reason": reason,
            "candidate": choice["name"],
            "transfer": choice["transfer"],
            "choice": choice["reason"],
            f"challenger_{metric}": challenger,
            f"{bar}_{metric}": metrics[bar][metric],
            "previous_champion_version": champion_version,
            f"previous_champion_{metric}": champion,
        }
        mlflow.log_metrics(
            {k: v for k, v in decision.items() if k.endswith(f"_{metric}") and v is not None}
        )
        tags = {**lineage_tags, "candidate": choice["name"]}
        return publish(client, name, source, chosen["model_uri"], tags, decision, parent_run_id)
