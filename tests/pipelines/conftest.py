"""Real services for pipeline tests: a Prefect test server, an MLflow sqlite store in a
temp dir, and a DVC repository holding a slice of the bank data."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from pipelines.cli import main
from pipelines.config import DEFAULT_CONFIG

FAST = {  # small but real training, so a whole flow takes seconds
    "pretrain": {"epochs": 3},
    "adaptation": {"train": {"epochs": 5, "lr": 0.001}},
    "evaluation": {"bootstrap": 100},
    "validation": {"min_rows": 20},
    "target": {"labelled": 60},
}


@pytest.fixture(scope="session")
def prefect_server():
    """One Prefect test server (temporary database) for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def mlflow_store(tmp_path_factory):
    """A fresh MLflow sqlite store (tracking + registry) for the test session."""
    store = tmp_path_factory.mktemp("mlruns")
    uri = f"sqlite:///{store / 'mlflow.db'}"
    patch = pytest.MonkeyPatch()
    patch.setenv("MLFLOW_TRACKING_URI", uri)
    yield uri
    patch.undo()


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def dvc(cwd: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="session")
def dvc_repo(tmp_path_factory, bank_slice) -> Path:
    """A git + DVC repository whose `data/` (a bank slice) is tracked by `data.dvc` and
    pushed to a local remote; the working copy of the data is then deleted, so the flow
    has to `dvc pull` it."""
    root = tmp_path_factory.mktemp("scenario")
    git(root, "init", "-q")
    dvc(root, "init", "-q")
    dvc(root, "config", "core.analytics", "false")
    (root / "data").mkdir()
    bank_slice.to_csv(root / "data" / "bank.csv", sep=";", index=False)
    dvc(root, "add", "-q", "data")
    dvc(root, "remote", "add", "-d", "local", str(root.parent / f"{root.name}-remote"))
    dvc(root, "push", "-q")
    shutil.rmtree(root / "data")
    shutil.rmtree(root / ".dvc" / "cache")
    return root


# The stage runs every flow run (tabular or image) logs under its parent run.
STAGES = {
    "validate",
    "pretrain_source",
    "select_intermediate",
    "adapt_target",
    "choose",
    "evaluate",
    "register",
}


def stage_runs(client: MlflowClient, parent) -> dict:
    """A flow run's stage runs by stage name."""
    children = client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    return {r.data.tags["stage"]: r for r in children}


def assert_failed_and_unregistered(message: str, model_name: str) -> None:
    """Some run FAILED with `message` in its error tag, and `model_name` was never registered."""
    client = MlflowClient()
    failed = client.search_runs(
        [e.experiment_id for e in client.search_experiments()], "attributes.status = 'FAILED'"
    )
    assert any(message in r.data.tags.get("error", "") for r in failed)
    assert not client.search_registered_models(f"name = '{model_name}'")


def write_config(path: Path, data_path: Path, **changes) -> Path:
    """The loan-marketing YAML pointed at `data_path`, with the FAST settings and `changes`."""
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw["data"]["path"] = str(data_path)
    raw["name"] = "test"
    raw["registry"] = {"model_name": "stepstone-test"}
    for section, values in {**FAST, **changes}.items():
        if isinstance(values, dict) and isinstance(raw.get(section), dict):
            raw[section] = {**raw[section], **values}
        else:
            raw[section] = values
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def scenario_config(dvc_repo, tmp_path_factory) -> Path:
    return write_config(
        tmp_path_factory.mktemp("cfg") / "scenario.yaml", dvc_repo / "data" / "bank.csv"
    )


@pytest.fixture(scope="session")
def first_run(prefect_server, mlflow_store, scenario_config, tmp_path_factory) -> dict:
    """One full `stepstone run` on the DVC scenario; returns its summary JSON."""
    out = tmp_path_factory.mktemp("out") / "summary.json"
    assert main(["run", "--config", str(scenario_config), "--summary-json", str(out)]) == 0
    return json.loads(out.read_text())


def tracked_repo(root: Path, table) -> Path:
    """A git + DVC repository at `root` whose data/bank.csv (`table`) is tracked and committed."""
    git(root, "init", "-q")
    git(root, "config", "user.email", "test@example.com")
    git(root, "config", "user.name", "test")
    dvc(root, "init", "-q")
    dvc(root, "config", "core.analytics", "false")
    (root / "data").mkdir()
    table.to_csv(root / "data" / "bank.csv", sep=";", index=False)
    commit_data(root, "first data version")
    return root


def tracked_scenario(home: Path, table, name: str, model: str, **changes) -> str:
    """A tracked repository of `table` under `home/repo` and a FAST scenario YAML on it."""
    (home / "repo").mkdir()
    repo = tracked_repo(home / "repo", table)
    path = write_config(
        home / "scenario.yaml",
        repo / "data" / "bank.csv",
        name=name,
        registry={"model_name": model},
        **changes,
    )
    return str(path)


def commit_data(root: Path, message: str) -> None:
    """`dvc add` the data and commit the new data.dvc: what a data engineer does."""
    dvc(root, "add", "-q", "data")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
