"""The flow with a transitive path: ddtl selection with the pool's true position (its date
order) known, gradual adaptation along the chunks, and the selection-quality reports."""

from __future__ import annotations

import json
import re

import pandas as pd
import yaml
from mlflow.tracking import MlflowClient

from pipelines.cli import main
from tests.pipelines.conftest import stage_runs, write_config
from tests.pipelines.test_bad_input import latest_run, run_bad

# Registered under their own name, so the end-to-end test's version numbers do not depend
# on which test file runs first.
OWN_REGISTRY = {"model_name": "stepstone-transit"}
GRADUAL = {"use_pool_labels": True, "train": {"epochs": 2, "lr": 0.001}}


def test_gradual_path_logs_steps_and_selection_reports(first_run, dvc_repo, tmp_path):
    config = write_config(
        tmp_path / "c.yaml",
        dvc_repo / "data" / "bank.csv",
        selection={"method": "ddtl", "chunks": 3, "truth": "row_id", "ddtl_epochs": 2},
        transit={"path": "gradual", "gradual": GRADUAL},
        registry=OWN_REGISTRY,
    )
    out = tmp_path / "summary.json"
    assert main(["run", "--config", str(config), "--summary-json", str(out)]) == 0
    summary = json.loads(out.read_text())
    assert 0.0 < summary["metrics"]["transfer"]["auc"] <= 1.0
    client = MlflowClient()
    stages = stage_runs(client, client.get_run(summary["parent_run_id"]))
    selection, adapt = stages["select_intermediate"], stages["adapt_target"]
    artifacts = {a.path for a in client.list_artifacts(selection.info.run_id, "selection")}
    assert {
        "selection/embedding_before.png",
        "selection/embedding_after.png",
        "selection/scores_by_truth.png",
        "selection/selected_by_truth.json",
        "selection/adapt_gradual_steps.json",
    } <= artifacts
    assert -1.0 <= selection.data.metrics["order_spearman_with_truth"] <= 1.0
    steps = client.get_metric_history(adapt.info.run_id, "transit_gradual_test_auc")
    assert [m.step for m in steps] == [0, 1, 2]  # one per chunk; no unlabelled target rows


def test_joint_path_runs(first_run, dvc_repo, tmp_path, capsys):
    config = write_config(
        tmp_path / "joint.yaml",
        dvc_repo / "data" / "bank.csv",
        selection={"method": "kernel", "chunks": 2},
        transit={"path": "joint", "joint": {"train": {"epochs": 2}}},
        registry=OWN_REGISTRY,
    )
    assert main(["run", "--config", str(config)]) == 0
    run = latest_run(MlflowClient(), "stepstone-test")
    assert run.info.status == "FINISHED"
    # The choice and its reason reach the console (a task's prints are Prefect INFO logs).
    assert re.search(r"^chose \w+: .+ CV auc", capsys.readouterr().out, re.MULTILINE)
    assert run.data.tags["promoted"] in ("true", "false")


def test_truth_column_missing_from_pool(first_run, dvc_repo, tmp_path, capsys):
    config = write_config(
        tmp_path / "c.yaml", dvc_repo / "data" / "bank.csv", selection={"truth": "angle"}
    )
    code, err, run = run_bad(config, capsys)
    assert code == 2 and "'angle' is missing" in err and "selection.truth" in err
    assert run.info.status == "FAILED"
    assert set(stage_runs(MlflowClient(), run)) == {"validate"}, "failed before training"


def test_listed_stepping_stones_are_crossed_in_order(first_run, dvc_repo, tmp_path):
    """2009 given as three stepping stones (four months each): the gradual path takes one
    step per stone, in the listed order, with every pool row kept."""
    months = [
        ["jan", "feb", "mar", "apr"],
        ["may", "jun", "jul", "aug"],
        ["sep", "oct", "nov", "dec"],
    ]
    raw_config = write_config(
        tmp_path / "stones.yaml",
        dvc_repo / "data" / "bank.csv",
        selection={"method": "given", "chunks": 3},
        transit={"path": "gradual", "gradual": GRADUAL},
        registry=OWN_REGISTRY,
    )
    raw = yaml.safe_load(raw_config.read_text())
    raw["data"]["domains"]["intermediate"] = [f"year == 2009 and month in {m}" for m in months]
    raw_config.write_text(yaml.safe_dump(raw, sort_keys=False))
    out = tmp_path / "summary.json"
    assert main(["run", "--config", str(raw_config), "--summary-json", str(out)]) == 0
    client = MlflowClient()
    stages = stage_runs(client, client.get_run(json.loads(out.read_text())["parent_run_id"]))
    selection = stages["select_intermediate"]
    assert selection.data.params["selection_method"] == "given"
    path = client.download_artifacts(
        selection.info.run_id, "selection/selection.csv", str(tmp_path)
    )
    table = pd.read_csv(path)
    assert table["selected"].all() and sorted(table["chunk"].unique()) == [0, 1, 2]
    bank = pd.read_csv(dvc_repo / "data" / "bank.csv", sep=";")
    month = bank["month"]  # row_id is the file row
    stone = {m: i for i, group in enumerate(months) for m in group}
    assert (table["chunk"] == month.loc[table["row_id"]].map(stone).to_numpy()).all()
    steps = client.get_metric_history(
        stages["adapt_target"].info.run_id, "transit_gradual_test_auc"
    )
    assert [m.step for m in steps] == [0, 1, 2]
