"""Four processes that open a fresh local sqlite store at the same moment all succeed: the
store is created and migrated once, under a file lock (pipelines.tracking.initialise_store)."""

from __future__ import annotations

import subprocess
import sys
import time

from mlflow.tracking import MlflowClient

from tests.pipelines.servers import clean_env

N = 4

# Import everything first, then wait at a barrier so that all N processes open the fresh
# store within milliseconds of each other (imports alone take seconds and would stagger them).
WORKER = """
import sys, time
from pathlib import Path
from pipelines.settings import configure_offline
configure_offline()
from pipelines import tracking
ready, go, index = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
(ready / index).touch()
while not go.exists():
    time.sleep(0.005)
client = tracking.configure()
run_id = tracking.start_parent(client, "concurrent", f"worker-{index}", {"worker": index})
client.log_metric(run_id, "value", float(index))
tracking.finish(client, run_id)
print(run_id)
"""


def test_four_processes_on_a_fresh_sqlite_store_all_succeed(tmp_path):
    db = tmp_path / "store" / "mlflow.db"  # neither the folder nor the file exists yet
    uri = f"sqlite:///{db}"
    ready, go = tmp_path / "ready", tmp_path / "go"
    ready.mkdir()
    env = clean_env(MLFLOW_TRACKING_URI=uri)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(ready), str(go), str(i)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(N)
    ]
    deadline = time.monotonic() + 240
    while len(list(ready.iterdir())) < N and time.monotonic() < deadline:
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        time.sleep(0.05)
    go.touch()
    results = [(p.wait(timeout=240), *p.communicate()) for p in procs]
    failed = [(code, err[-3000:]) for code, _, err in results if code != 0]
    assert not failed, f"{len(failed)}/{N} processes failed: {failed}"

    client = MlflowClient(uri, uri)
    experiment = client.get_experiment_by_name("concurrent")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == N and {r.info.status for r in runs} == {"FINISHED"}
    assert sorted(r.data.metrics["value"] for r in runs) == [float(i) for i in range(N)]
    assert {out.strip() for _, out, _ in results} == {r.info.run_id for r in runs}
