"""Scheduled retraining on a temp DVC repository: the source stage is served from the
Prefect cache while the source rows are unchanged, re-run when they change, and a worse
challenger does not displace the champion."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from pipelines.retrain import retrain
from tests.pipelines.conftest import commit_data, tracked_repo, write_config

MODEL = "stepstone-retrain"
WORSE = {"adaptation.method": "finetune", "adaptation.train.epochs": 1, "adaptation.train.lr": 1e-6}


@pytest.fixture(scope="module")
def retrain_store(tmp_path_factory):
    """A separate MLflow store, so this module's registry starts empty."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('retrain-mlruns') / 'mlflow.db'}"
    patch = pytest.MonkeyPatch()
    patch.setenv("MLFLOW_TRACKING_URI", uri)
    previous = mlflow.get_tracking_uri()
    yield uri
    patch.undo()
    mlflow.set_tracking_uri(previous)
    mlflow.set_registry_uri(previous)


@pytest.fixture(scope="module")
def data_repo(tmp_path_factory, bank_slice) -> Path:
    """A git + DVC repository whose data/bank.csv is tracked by data.dvc."""
    return tracked_repo(tmp_path_factory.mktemp("retrain-repo"), bank_slice)


def edit_rows(root: Path, rows: slice, column: str, delta: float, message: str) -> None:
    path = root / "data" / "bank.csv"
    table = pd.read_csv(path, sep=";")
    table.loc[table.index[rows], column] += delta
    table.to_csv(path, sep=";", index=False)
    commit_data(root, message)


@pytest.fixture(scope="module")
def config(data_repo, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("retrain-cfg") / "scenario.yaml"
    data = data_repo / "data" / "bank.csv"
    return str(write_config(path, data, registry={"model_name": MODEL}))


def pretrain_state(flow_run_id: str) -> str:
    """The Prefect state name of the flow run's pretrain_source task ("Cached" or "Completed")."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async def read() -> list:
        async with get_client() as client:
            runs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[uuid.UUID(flow_run_id)]))
            )
            return [r.state.name for r in runs if r.name.startswith("pretrain_source")]

    (state,) = asyncio.run(read())
    return state


def flow_run_of(summary: dict) -> str:
    return MlflowClient().get_run(summary["parent_run_id"]).data.tags["prefect_flow_run_id"]


@pytest.fixture(scope="module")
def first(prefect_server, retrain_store, config) -> dict:
    """The first retrain; its version is made champion (an existing champion to beat)."""
    summary = retrain(config_path=config)
    if not summary["registered_model"]["promoted"]:
        MlflowClient().set_registered_model_alias(MODEL, "champion", "1")
    return summary


def test_first_retrain_trains_the_source_model(first):
    assert first["retrained"] and first["new_data"]
    assert first["source_cached"] is False
    assert pretrain_state(flow_run_of(first)) == "Completed"


def test_unchanged_source_is_served_from_cache_and_a_worse_challenger_is_not_promoted(
    first, config
):
    second = retrain(config_path=config, overrides=WORSE)
    assert second["source_cached"] is True
    assert pretrain_state(flow_run_of(second)) == "Cached"
    assert second["source"]["run_id"] == first["source"]["run_id"]
    assert MlflowClient().get_run(second["parent_run_id"]).data.tags["source_cached"] == "true"
    # Adaptation changed, so the new version differs and is worse on the same test rows.
    model = second["registered_model"]
    assert model["version"] == 2 and not model["promoted"]
    assert "<= champion" in model["reason"] and "same test rows" in model["reason"]
    client = MlflowClient()
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == "1"
    assert str(client.get_model_version_by_alias(MODEL, "challenger").version) == "2"
    decision = client.download_artifacts(
        client.get_model_version(MODEL, "2").tags["parent_run_id"], "summary.json"
    )
    assert "<= champion" in Path(decision).read_text()
    # Both versions name the same parent source model.
    lineage = [client.get_model_version(MODEL, v).tags["source_model_version"] for v in "12"]
    assert lineage[0] == lineage[1] == f"{MODEL}-source/1"


def test_a_target_only_data_version_keeps_the_cached_source(first, config, data_repo):
    edit_rows(data_repo, slice(-30, None), "campaign", 1, "new target campaign data")
    third = retrain(config_path=config)
    assert third["new_data"] and third["source_cached"] is True
    assert third["source"]["run_id"] == first["source"]["run_id"]
    assert third["data"]["md5"] != first["data"]["md5"]


def test_a_new_source_data_version_retrains_the_source(first, config, data_repo):
    edit_rows(data_repo, slice(0, 50), "age", 1, "corrected source ages")
    fourth = retrain(config_path=config)
    assert fourth["source_cached"] is False
    assert pretrain_state(flow_run_of(fourth)) == "Completed"
    assert fourth["source"]["run_id"] != first["source"]["run_id"]
    assert fourth["source"]["source_digest"] != first["source"]["source_digest"]
    assert fourth["registered_model"]["source_model"] == f"{MODEL}-source/2"


def test_nightly_run_skips_a_data_version_that_already_has_a_model(first, config):
    before = len(MlflowClient().search_model_versions(f"name = '{MODEL}'"))
    result = retrain(config_path=config, only_new_data=True)
    assert result["retrained"] is False and "nothing to retrain" in result["reason"]
    assert len(MlflowClient().search_model_versions(f"name = '{MODEL}'")) == before
