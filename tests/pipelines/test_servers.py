"""Real servers started by the tests: `prefect server start` + a process work pool and worker
running the deployments of prefect.yaml, `stepstone serve`, a sweep on a 2-worker Dask
LocalCluster, and an `mlflow server` that every run logs to over HTTP."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from prefect.exceptions import ObjectNotFound

from tests.pipelines.conftest import tracked_scenario
from tests.pipelines.servers import (
    REPO_ROOT,
    clean_env,
    flow_logs,
    free_port,
    prefect_cli,
    python,
    read,
    run_deployment,
    started,
    tail,
)

MODEL = "stepstone-servers"
STAGES = {"validate", "pretrain_source", "select_intermediate", "adapt_target", "evaluate"}


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("servers")


@pytest.fixture(scope="module")
def mlflow_url(home) -> str:
    """`mlflow server` on loopback: sqlite backend, local artifacts served over HTTP."""
    port = free_port()
    cmd = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--backend-store-uri", f"sqlite:///{home / 'mlflow.db'}", "--workers", "1"]
    cmd += ["--artifacts-destination", str(home / "mlflow-artifacts")]
    url = f"http://127.0.0.1:{port}"
    with started(cmd, clean_env(), home / "mlflow.log", f"{url}/health"):
        yield url


@pytest.fixture(scope="module")
def prefect_url(home) -> str:
    """`prefect server start` on loopback with a temp PREFECT_HOME and a sqlite database."""
    port = free_port()
    env = clean_env(
        PREFECT_HOME=str(home / "prefect-server"),
        PREFECT_SERVER_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{home / 'prefect.db'}",
    )
    cmd = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
    url = f"http://127.0.0.1:{port}/api"
    with started([*cmd, "--port", str(port)], env, home / "prefect.log", f"{url}/health"):
        yield url


@pytest.fixture(scope="module")
def client_env(home, prefect_url, mlflow_url) -> dict[str, str]:
    """What a team member's shell (or a worker) has: both server URLs and the checkout."""
    return clean_env(
        PREFECT_API_URL=prefect_url,
        PREFECT_HOME=str(home / "prefect-client"),
        PREFECT_WORKER_QUERY_SECONDS="2",
        MLFLOW_TRACKING_URI=mlflow_url,
        STEPSTONE_HOME=str(REPO_ROOT),
    )


@pytest.fixture(scope="module")
def worker(home, client_env):
    """The `stepstone-local` process work pool, the deployments of prefect.yaml, a worker."""
    prefect_cli(client_env, "work-pool", "create", "stepstone-local", "--type", "process")
    names = ["--name", "on-demand", "--name", "nightly-retrain", "--name", "sweep"]
    prefect_cli(client_env, "--no-prompt", "deploy", *names, timeout=180)
    cmd = [sys.executable, "-m", "prefect", "worker", "start", "--pool", "stepstone-local"]
    log = home / "worker.log"
    with started([*cmd, "--type", "process"], client_env, log, None):
        yield log


@pytest.fixture(scope="module")
def scenario(home, bank_slice) -> str:
    return tracked_scenario(home, bank_slice, "servers", MODEL)


def test_prefect_yaml_deployments_are_on_the_server(worker, prefect_url):
    nightly = read(
        prefect_url, lambda c: c.read_deployment_by_name("stepstone-retrain/nightly-retrain")
    )
    assert nightly.work_pool_name == "stepstone-local"
    assert [s.schedule.cron for s in nightly.schedules] == ["0 2 * * *"]
    assert nightly.parameters == {"only_new_data": True}
    sweep = read(prefect_url, lambda c: c.read_deployment_by_name("stepstone-multi-run/sweep"))
    assert sweep.entrypoint == "pipelines/scaleout.py:multi_run"


def test_on_demand_run_on_the_worker_logs_to_the_mlflow_server(
    worker, prefect_url, mlflow_url, scenario
):
    run = run_deployment(prefect_url, "stepstone-retrain/on-demand", {"config_path": scenario})
    assert run.state.is_completed(), tail(worker) + flow_logs(prefect_url, run.id)
    client = MlflowClient(mlflow_url, mlflow_url)
    experiment = client.get_experiment_by_name("stepstone-servers")
    assert experiment.artifact_location.startswith("mlflow-artifacts:")
    (parent,) = client.search_runs(
        [experiment.experiment_id], "attributes.status = 'FINISHED' and tags.scenario = 'servers'"
    )
    assert 0.0 <= parent.data.metrics["transfer_auc"] <= 1.0
    children = client.search_runs(
        [experiment.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert STAGES <= {c.data.tags["stage"] for c in children}
    version = client.get_model_version(MODEL, "1")
    assert version.tags["parent_run_id"] == parent.info.run_id
    assert "challenger" in version.aliases
    summary = json.loads(
        Path(client.download_artifacts(parent.info.run_id, "summary.json")).read_text()
    )
    assert summary["source"]["cached"] is False


def test_stepstone_serve_serves_the_schedule(home, client_env, prefect_url, scenario):
    cmd = [sys.executable, "-m", "pipelines.cli", "serve", "--config", scenario]
    log = home / "serve.log"
    with started([*cmd, "--cron", "*/30 * * * *"], client_env, log, None) as serving:
        deadline = time.monotonic() + 90
        while True:
            try:
                nightly = read(
                    prefect_url,
                    lambda c: c.read_deployment_by_name("stepstone-retrain/served-nightly"),
                )
                # serve registers its deployments one after the other: wait for both.
                read(
                    prefect_url,
                    lambda c: c.read_deployment_by_name("stepstone-retrain/served-on-demand"),
                )
                if [s.schedule.cron for s in nightly.schedules] == ["*/30 * * * *"]:
                    break
            except ObjectNotFound:  # not registered yet
                nightly = None
            assert serving.poll() is None and time.monotonic() < deadline, tail(log)
            time.sleep(1)
        assert nightly.parameters == {"config_path": scenario, "only_new_data": True}
        # The served process runs on-demand runs itself; this data version has a model already.
        run = run_deployment(
            prefect_url, "stepstone-retrain/served-on-demand", {"only_new_data": True}
        )
        assert run.state.is_completed(), tail(log) + flow_logs(prefect_url, run.id)


SWEEP = """
import json, sys
from pipelines.settings import configure_offline
configure_offline()
from pipelines.scaleout import multi_run
print(json.dumps(multi_run(config_paths=[sys.argv[1]], seeds=[0, 1], dask_workers=2)))
"""


def test_sweep_runs_on_a_two_worker_dask_cluster(client_env, prefect_url, mlflow_url, scenario):
    """multi_run with a prefect-dask LocalCluster (2 worker processes), reporting to the real
    Prefect server and logging to the MLflow server."""
    done = python(client_env, "-c", SWEEP, scenario, timeout=400)
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert sorted(r["seed"] for r in result["runs"]) == [0, 1]
    report = result["scenarios"][scenario]
    assert report["metric"] == "auc" and report["registered"]["n"] == report["transfer"]["n"] == 2
    tasks = read(prefect_url, lambda c: c.read_task_runs())
    scenario_tasks = [t for t in tasks if t.name.startswith("run_scenario")]
    assert len(scenario_tasks) == 2 and all(t.state.is_completed() for t in scenario_tasks)
    client = MlflowClient(mlflow_url, mlflow_url)
    runs = [client.get_run(r["parent_run_id"]) for r in result["runs"]]
    assert all(r.info.status == "FINISHED" for r in runs)
    first, second = sorted(runs, key=lambda r: r.info.start_time)
    assert second.info.start_time < first.info.end_time, "the two runs should overlap in time"


@pytest.mark.parametrize(
    ("variable", "url"),
    [
        ("MLFLOW_TRACKING_URI", "http://127.0.0.1:{port}"),
        ("PREFECT_API_URL", "http://127.0.0.1:{port}/api"),
    ],
)
@pytest.mark.parametrize("command", ["run", "retrain"])
def test_unreachable_server_is_a_clear_error_within_seconds(variable, url, command, tmp_path):
    url = url.format(port=free_port())  # nothing listens there
    env = clean_env(**{variable: url, "PREFECT_HOME": str(tmp_path)})
    if variable == "PREFECT_API_URL":
        env["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp_path / 'mlflow.db'}"
    start = time.monotonic()
    done = python(env, "-m", "pipelines.cli", command)
    assert time.monotonic() - start < 20
    assert done.returncode == 2
    assert f"cannot reach {url} (set by {variable})" in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_without_a_prefect_server_says_how_to_start_one(tmp_path):
    env = clean_env(PREFECT_HOME=str(tmp_path), MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path}/m.db")
    done = python(env, "-m", "pipelines.cli", "serve")
    assert done.returncode == 2
    assert "prefect server start" in done.stderr and "PREFECT_API_URL" in done.stderr


def test_unreachable_mlflow_in_process_fails_fast(monkeypatch):
    from components.errors import StepstoneError
    from pipelines import tracking

    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    start = time.monotonic()
    with pytest.raises(
        StepstoneError, match=f"cannot reach {url} \\(set by MLFLOW_TRACKING_URI\\)"
    ):
        tracking.configure()
    assert time.monotonic() - start < 5


def test_a_password_in_a_server_url_is_never_printed(monkeypatch):
    from components.errors import StepstoneError
    from pipelines import tracking
    from pipelines.settings import redacted

    assert redacted("postgresql://me:s3cret@db:5432/mlflow") == "postgresql://me:***@db:5432/mlflow"
    assert redacted("sqlite:///mlruns/mlflow.db") == "sqlite:///mlruns/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://me:s3cret@127.0.0.1:{free_port()}")
    with pytest.raises(StepstoneError) as error:
        tracking.configure()
    assert "s3cret" not in str(error.value) and "me:***@127.0.0.1" in str(error.value)


LOCAL_API = """
import json, urllib.request
from pipelines.settings import configure_offline
configure_offline()
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.server.api.server import SubprocessASGIServer
from pipelines.servers import local_prefect_starting

with local_prefect_starting():
    pass
server = SubprocessASGIServer()
with urllib.request.urlopen(server.api_url + "/health", timeout=5) as answer:
    healthy = answer.status == 200

@flow
def which_api() -> str:
    return get_client(sync_client=True).api_url

print(json.dumps({"healthy": healthy, "started": server.api_url, "flow": str(which_api())}))
"""


def test_the_local_prefect_api_starts_early_and_the_flow_uses_it(tmp_path):
    """Without PREFECT_API_URL, the CLI starts Prefect's local API while the pipeline imports;
    the flow then runs against that server rather than starting a second one."""
    done = python(clean_env(PREFECT_HOME=str(tmp_path)), "-c", LOCAL_API, timeout=180)
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["healthy"]
    assert result["flow"].rstrip("/") == result["started"].rstrip("/")


KILLED_RUN = """
import json, os, signal
from prefect.server.api.server import SubprocessASGIServer
from pipelines.servers import local_prefect_starting

with local_prefect_starting():
    pass
print(json.dumps({"server": SubprocessASGIServer().server_process.pid}), flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # no atexit: what the OOM killer or kill -9 does
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's bookkeeping is left


def test_a_killed_run_does_not_leave_the_local_prefect_api_behind(tmp_path):
    done = python(clean_env(PREFECT_HOME=str(tmp_path)), "-c", KILLED_RUN, timeout=180)
    assert done.returncode == -9, done.stderr[-4000:]
    server = json.loads(done.stdout.strip().splitlines()[-1])["server"]
    deadline = time.monotonic() + 20
    while alive(server) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not alive(server), f"Prefect's local server {server} outlived the killed run"


def test_no_local_prefect_api_when_a_server_is_configured(monkeypatch):
    import threading

    from pipelines.servers import local_prefect_starting

    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    with local_prefect_starting():
        assert "prefect-api" not in {t.name for t in threading.enumerate()}
