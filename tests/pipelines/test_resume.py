"""A real `stepstone run` killed with SIGKILL in the middle of `adapt_target` is finished by
`stepstone run --resume RUN_ID`: the stages it had finished are reused (no second stage run),
the adaptation continues from its last epoch checkpoint, and the registered model scores the
test rows exactly as the model of a run that was never killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from mlflow.tracking import MlflowClient

from pipelines.cli import main
from tests.pipelines.conftest import stage_runs, write_config
from tests.pipelines.servers import clean_env

ADAPT_EPOCHS = 60  # long enough that the kill lands inside the adaptation


def stepstone(env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "run", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finished(proc: subprocess.Popen) -> str:
    out, _ = proc.communicate(timeout=400)
    assert proc.returncode == 0, out[-4000:]
    return out


def test_a_killed_run_resumes_and_matches_an_unkilled_one(
    prefect_server, tmp_path, bank_slice, monkeypatch
):
    data = tmp_path / "bank.csv"
    bank_slice.to_csv(data, sep=";", index=False)
    config = write_config(
        tmp_path / "scenario.yaml",
        data,
        adaptation={"train": {"epochs": ADAPT_EPOCHS}},
        choice={"folds": 3, "repeats": 1},  # the CV refits the transfer recipe per fold
    )
    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    state = tmp_path / "state"
    env = clean_env(MLFLOW_TRACKING_URI=uri, STEPSTONE_STATE_DIR=str(state))
    client_args = ("--config", str(config), "--quiet")

    reference = finished(stepstone(env, *client_args))
    reference_run = reference.split("MLflow parent run ")[1].split()[0]

    killed = stepstone(env, *client_args)
    deadline = time.monotonic() + 300
    checkpoint = None
    while checkpoint is None and time.monotonic() < deadline:
        assert killed.poll() is None, killed.communicate()[0][-4000:]
        found = list(state.glob("runs/*/epochs/adapt-0.pt"))
        checkpoint = found[0] if found else None
        time.sleep(0.05)
    assert checkpoint is not None, "the adaptation never wrote a checkpoint"
    time.sleep(0.5)  # a few more epochs
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait(timeout=30)
    run_id = checkpoint.parents[1].name

    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("STEPSTONE_STATE_DIR", str(state))
    client = MlflowClient(uri, uri)
    assert client.get_run(run_id).info.status == "RUNNING"  # until someone notices
    before = {r.data.tags["stage"] for r in stage_runs(client, client.get_run(run_id)).values()}
    assert {"validate", "select_intermediate", "adapt_target"} <= before
    assert "choose" not in before

    resumed = finished(stepstone(env, *client_args, "--resume", run_id))
    assert f"resuming run {run_id}" in resumed
    step = int(resumed.split("adapt resumed from its checkpoint at step ")[1].split("/")[0])
    assert step > 0  # it did not start the adaptation over

    parent = client.get_run(run_id)
    assert parent.info.status == "FINISHED" and parent.data.tags["stepstone.resumed"] == "true"
    children = client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{run_id}'"
    )
    count = pd.Series([r.data.tags["stage"] for r in children]).value_counts().to_dict()
    # Finished stages were reused, the killed one ran again, the rest ran once; the source
    # model came from the reference run (the source cache), so no source stage ran here.
    for stage in ("validate", "select_intermediate"):
        assert count[stage] == 1, count
    assert "pretrain_source" not in count and parent.data.tags["source_cached"] == "true"
    assert count["adapt_target"] == 2 and count["choose"] == count["register"] == 1, count
    statuses = {
        r.data.tags["stage"]: r.info.status for r in children if r.info.status != "FINISHED"
    }
    assert statuses == {"adapt_target": "FAILED"}  # the killed attempt, marked as orphan
    assert not state.joinpath("runs", run_id).exists()  # work folder gone once finished

    def test_scores(parent_id: str) -> pd.DataFrame:
        evaluate = stage_runs(client, client.get_run(parent_id))["evaluate"]
        path = client.download_artifacts(
            evaluate.info.run_id, "evaluation/test_scores.parquet", str(tmp_path / parent_id)
        )
        return pd.read_parquet(path)

    pd.testing.assert_frame_equal(test_scores(run_id), test_scores(reference_run))

    # A finished run cannot be resumed; a clear error, exit 2.
    assert main(["run", *client_args, "--resume", run_id]) == 2


def test_resume_refuses_another_config(prefect_server, tmp_path, bank_slice, monkeypatch, capsys):
    """Resuming with a config other than the run's is refused before anything runs."""
    from pipelines import tracking

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("STEPSTONE_STATE_DIR", str(tmp_path / "state"))
    client = tracking.configure()
    run_id = tracking.start_parent(client, "stepstone-test", "killed", {"config_hash": "0" * 16})
    tracking.finish(client, run_id, RuntimeError("killed"))
    Path(tmp_path / "state" / "runs" / run_id).mkdir(parents=True)
    data = tmp_path / "bank.csv"
    bank_slice.to_csv(data, sep=";", index=False)
    config = write_config(tmp_path / "scenario.yaml", data)
    assert main(["run", "--config", str(config), "--resume", run_id]) == 2
    assert "the config differs from the run's" in capsys.readouterr().err
    assert main(["run", "--config", str(config), "--resume", "nosuchrun"]) == 2
