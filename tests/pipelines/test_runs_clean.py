"""A run whose process was SIGKILLed does not stay RUNNING: `stepstone runs clean` (and
`tracking.mark_orphans` at the start of every flow) marks it and its stage runs FAILED with the
reason; runs of live processes, of other hosts and young untagged runs are left alone."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from pipelines import tracking
from pipelines.cli import main
from tests.pipelines.servers import clean_env

# Start a parent run and one stage run the way the flow does, print their ids, then work on.
WORKER = """
import time
from pipelines.settings import configure_offline
configure_offline()
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID
from pipelines import tracking
client = tracking.configure()
parent = tracking.start_parent(client, "orphans", "flow", {})
exp = client.get_run(parent).info.experiment_id
child = client.create_run(exp, run_name="pretrain_source", tags={MLFLOW_PARENT_RUN_ID: parent})
print(parent, child.info.run_id, flush=True)
time.sleep(600)
"""


def start_worker(uri: str) -> tuple[subprocess.Popen, str, str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER],
        env=clean_env(MLFLOW_TRACKING_URI=uri),
        stdout=subprocess.PIPE,
        text=True,
    )
    parent, child = proc.stdout.readline().split()
    return proc, parent, child


def test_killed_run_is_marked_failed_and_live_runs_are_left(tmp_path, monkeypatch, capsys):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    killed, dead_parent, dead_child = start_worker(uri)
    alive, live_parent, live_child = start_worker(uri)
    try:
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait(timeout=30)

        client = MlflowClient(uri, uri)
        exp = client.get_experiment_by_name("orphans").experiment_id
        tags = client.get_run(dead_parent).data.tags
        assert tags[tracking.HOST_TAG] == socket.gethostname()
        assert tags[tracking.PID_TAG] == str(killed.pid)
        # An untagged run (started by an older stepstone) 30 h ago, and one started just now.
        hour_ms = 3_600_000
        old = client.create_run(exp, start_time=int(time.time() * 1000) - 30 * hour_ms)
        young = client.create_run(exp)
        # A run on another machine whose pid happens to be free here: not ours to judge.
        other = client.create_run(
            exp, tags={tracking.HOST_TAG: "some-other-host", tracking.PID_TAG: str(killed.pid)}
        )
        assert client.get_run(dead_parent).info.status == "RUNNING"

        assert main(["runs", "clean"]) == 0
        out = capsys.readouterr().out

        reason = f"process {killed.pid} on host {socket.gethostname()} is gone"
        for run_id in (dead_parent, dead_child, old.info.run_id):
            run = client.get_run(run_id)
            assert run.info.status == "FAILED", run_id
            assert "marked FAILED by `stepstone runs clean`" in run.data.tags["stepstone.failure"]
            assert run_id in out
        assert reason in client.get_run(dead_parent).data.tags["stepstone.failure"]
        child_reason = client.get_run(dead_child).data.tags["stepstone.failure"]
        assert dead_parent in child_reason and reason in child_reason
        assert "no stepstone.host" in client.get_run(old.info.run_id).data.tags["stepstone.failure"]
        assert "3 orphaned run(s) marked FAILED" in out
        for run_id in (live_parent, live_child, young.info.run_id, other.info.run_id):
            assert client.get_run(run_id).info.status == "RUNNING", run_id
        assert alive.poll() is None

        # Idempotent: a second pass finds nothing more to mark.
        assert tracking.mark_orphans(client) == []
        assert client.get_run(live_child).data.tags[MLFLOW_PARENT_RUN_ID] == live_parent
    finally:
        for proc in (killed, alive):
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)


def test_work_folders_of_stopped_runs_are_listed_and_discarded_on_request(
    tmp_path, monkeypatch, capsys
):
    """`runs clean` names the work folders a stopped run keeps for `--resume`; with
    `--discard-work` it deletes them, and never a RUNNING run's or another store's."""
    from pipelines.resume import run_folder

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("STEPSTONE_STATE_DIR", str(tmp_path / "state"))
    client = tracking.configure()
    stopped = tracking.start_parent(client, "kept", "stopped", {})
    tracking.finish(client, stopped, RuntimeError("killed"))
    running = tracking.start_parent(client, "kept", "running", {})  # this process: alive
    for run_id in (stopped, running, "a0b1c2d3e4f5"):  # the last one: another store's run
        run_folder(run_id).mkdir(parents=True)
        run_folder(run_id).joinpath("split.parquet").write_bytes(b"x" * 2_000_000)

    assert main(["runs", "clean"]) == 0
    out = capsys.readouterr().out
    assert f"kept for --resume: {run_folder(stopped)} (2.0 MB)" in out
    assert running not in out and "a0b1c2d3e4f5" not in out
    assert "1 stopped run(s) can be finished with `stepstone run --resume RUN_ID`" in out
    assert run_folder(stopped).is_dir()

    assert main(["runs", "clean", "--discard-work"]) == 0
    assert f"deleted: {run_folder(stopped)}" in capsys.readouterr().out
    assert not run_folder(stopped).exists()
    assert run_folder(running).is_dir() and run_folder("a0b1c2d3e4f5").is_dir()
    tracking.finish(client, running)
