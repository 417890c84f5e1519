"""The whole flow on a bank slice with real Prefect, MLflow, DVC and GX."""

from __future__ import annotations

import asyncio
import hashlib
import json
import urllib.request
import uuid
from pathlib import Path

import mlflow
import pandas as pd
import yaml
from mlflow.tracking import MlflowClient

from components.candidates.names import TABLES as TABLE_CANDIDATES
from components.candidates.names import TABLES_PREFERRED
from pipelines.cli import main
from pipelines.lineage import lineage
from tests.pipelines.conftest import STAGES, stage_runs
from tests.pipelines.servers import served_model

ARMS = {*TABLE_CANDIDATES, "source_model", "transfer"}


def test_run_pulls_the_dvc_data_and_records_its_digest(first_run, dvc_repo):
    data_file = dvc_repo / "data" / "bank.csv"
    assert data_file.exists(), "the flow should have run `dvc pull`"
    dvc_md5 = yaml.safe_load((dvc_repo / "data.dvc").read_text())["outs"][0]["md5"]
    file_md5 = hashlib.md5(data_file.read_bytes()).hexdigest()
    assert first_run["data"] == {"md5": file_md5, "dvc_md5": dvc_md5, "path": str(data_file)}
    tags = MlflowClient().get_run(first_run["parent_run_id"]).data.tags
    assert tags["data_md5"] == file_md5 and tags["dvc_md5"] == dvc_md5


def test_one_parent_run_with_a_nested_run_per_stage(first_run):
    client = MlflowClient()
    parent = client.get_run(first_run["parent_run_id"])
    assert parent.info.status == "FINISHED"
    for tag in ("git_commit", "config_hash", "prefect_flow_run_id", "source_model_uri"):
        assert parent.data.tags.get(tag), tag
    by_stage = stage_runs(client, parent)
    assert set(by_stage) == STAGES
    assert all(c.info.status == "FINISHED" for c in by_stage.values())
    history = client.get_metric_history(by_stage["pretrain_source"].info.run_id, "pretrain_loss")
    assert [m.step for m in history] == [0, 1, 2]
    artifacts = {
        a.path for a in client.list_artifacts(by_stage["validate"].info.run_id, "validation")
    }
    assert {"validation/report.md", "validation/summary.json", "validation/drift.json"} <= artifacts
    artifacts = {
        a.path for a in client.list_artifacts(by_stage["evaluate"].info.run_id, "evaluation")
    }
    assert {
        "evaluation/roc.png",
        "evaluation/gain_lift.png",
        "evaluation/comparison.md",
    } <= artifacts
    selection = pd.read_csv(
        client.download_artifacts(
            by_stage["select_intermediate"].info.run_id, "selection/selection.csv"
        )
    )
    assert set(selection.columns) >= {"row_id", "score", "order", "chunk", "selected"}
    inputs = {d.dataset.name for d in by_stage["adapt_target"].inputs.dataset_inputs}
    assert inputs == {"target_labelled", "intermediate_selected"}
    resolved = client.download_artifacts(parent.info.run_id, "config/resolved.yaml")
    assert yaml.safe_load(Path(resolved).read_text())["registry"]["model_name"] == "stepstone-test"


def test_summary_has_every_arm_and_the_registered_model(first_run):
    assert set(first_run["metrics"]) == ARMS
    for metrics in first_run["metrics"].values():
        assert 0.0 <= metrics["auc"] <= 1.0 and metrics["lift_top10"] >= 0.0
    model = first_run["registered_model"]
    assert model["name"] == "stepstone-test" and model["version"] == 1
    assert "challenger" in model["aliases"]
    # The registered model is the CV choice; a first version is champion when it is the best
    # candidate without transfer, or beats that one on the test rows.
    choice, metrics = first_run["choice"], first_run["metrics"]
    assert model["candidate"] == choice["name"]
    cv = first_run["cv"]

    def best(transfer: bool) -> str:
        return max((c for c in cv if cv[c]["transfer"] == transfer), key=lambda c: cv[c]["mean"])

    # Each group's pick is its best by CV, or the preferred candidate within tolerance_se SEs.
    prefer_transfer, prefer_plain = TABLES_PREFERRED
    assert choice["baseline"] in {best(False), prefer_plain}
    if choice["baseline"] != best(False):
        assert f"{prefer_plain} {cv[prefer_plain]['mean']:.4f} is within " in choice["reason"]
    if choice["transfer"]:  # the guard: only a transfer pick that beats the plain pick
        assert choice["name"] in {best(True), prefer_transfer}
        assert cv[choice["name"]]["mean"] > cv[choice["baseline"]]["mean"]
    else:
        assert choice["name"] == choice["baseline"]
    beats = choice["name"] == choice["baseline"] or (
        metrics[choice["name"]]["auc"] > metrics[choice["baseline"]]["auc"]
    )
    assert ("champion" in model["aliases"]) == beats == model["promoted"]


def test_prefect_recorded_the_flow_run(first_run):
    from prefect.client.orchestration import get_client

    flow_run_id = (
        MlflowClient().get_run(first_run["parent_run_id"]).data.tags["prefect_flow_run_id"]
    )

    async def read():
        async with get_client() as client:
            run = await client.read_flow_run(uuid.UUID(flow_run_id))
            tasks = await client.read_task_runs()
            return run, {t.name.rsplit("-", 1)[0] for t in tasks if t.flow_run_id == run.id}

    run, task_names = asyncio.run(read())
    assert run.state.is_completed()
    assert {"load_data", *STAGES} <= task_names


def test_registered_model_scores_raw_rows_and_has_lineage(first_run, dvc_repo, tmp_path, capsys):
    uri = "models:/stepstone-test@challenger"
    raw = pd.read_csv(dvc_repo / "data" / "bank.csv", sep=";").tail(50)
    scores = mlflow.pyfunc.load_model(uri).predict(raw.drop(columns=["y", "duration"]))
    assert scores["score"].between(0, 1).all() and scores["score"].nunique() > 10

    info = lineage(uri)
    assert info["lineage"]["parent_run_id"] == first_run["parent_run_id"]
    assert info["lineage"]["data_md5"] == first_run["data"]["md5"]
    assert info["lineage"]["source_model_version"] == "stepstone-test-source/1"
    assert info["lineage"]["validation"] == "passed"
    assert "stepstone-test" in info["config"]

    assert main(["lineage", uri, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["lineage"]["git_commit"] == info["lineage"]["git_commit"]

    source = tmp_path / "customers.csv"
    raw.drop(columns=["y"]).to_csv(source, index=False)
    ranked = tmp_path / "ranked.csv"
    assert main(["score", "--model", uri, "--input", str(source), "--output", str(ranked)]) == 0
    out = pd.read_csv(ranked)
    assert len(out) == 50 and list(out["rank"]) == list(range(1, 51))
    assert out["score"].is_monotonic_decreasing


def test_second_run_compares_against_the_champion(first_run, scenario_config, tmp_path):
    out = tmp_path / "summary.json"
    assert main(["run", "--config", str(scenario_config), "--summary-json", str(out)]) == 0
    second = json.loads(out.read_text())["registered_model"]
    assert second["version"] == 2
    # Same data, config and seed: same model quality, so it must not displace the champion.
    client = MlflowClient()
    if first_run["registered_model"]["promoted"]:
        assert (
            "champion" in second["reason"]
            and "same test rows" in second["reason"]
            and not second["promoted"]
        )
        assert str(client.get_model_version_by_alias("stepstone-test", "champion").version) == "1"
    assert str(client.get_model_version_by_alias("stepstone-test", "challenger").version) == "2"
    assert str(client.get_model_version("stepstone-test-source", "1").version) == "1"


def test_mlflow_models_serve_answers_with_scores(first_run, dvc_repo, mlflow_store, tmp_path):
    """`mlflow models serve --env-manager local` on the registered model, a real HTTP request."""
    uri = "models:/stepstone-test@challenger"
    with served_model(uri, mlflow_store, tmp_path / "serve.log", timeout=90) as port:
        rows = (
            pd.read_csv(dvc_repo / "data" / "bank.csv", sep=";")
            .head(5)
            .drop(columns=["y", "duration"])
        )
        body = json.dumps(
            {"dataframe_split": json.loads(rows.to_json(orient="split", index=False))}
        )
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            body.encode(),
            {"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            predictions = json.loads(response.read())["predictions"]
    assert len(predictions) == 5 and all(0.0 <= p["score"] <= 1.0 for p in predictions)
