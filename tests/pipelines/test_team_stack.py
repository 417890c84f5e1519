"""The team stack for real (infra/docker-compose.yml without Docker): one PostgreSQL cluster
is the database of both `prefect server start` and `mlflow server` (artifacts on local disk).
A flow run, a retrain and 4 overlapping `stepstone run`s go through them as separate
processes, the way team members' shells would."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.pipelines.conftest import tracked_scenario
from tests.pipelines.servers import (
    REPO_ROOT,
    clean_env,
    free_port,
    postgres_bindir,
    postgres_cluster,
    read,
    started,
    tail,
)

MODEL = "stepstone-team"
SMALL = {  # the FAST settings, smaller still: 6 flow runs share 2 cores
    "pretrain": {"epochs": 2},
    "adaptation": {"train": {"epochs": 3, "lr": 0.001}},
    "evaluation": {"bootstrap": 50},
}


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("team")


@pytest.fixture(scope="module")
def database():
    """One PostgreSQL cluster (Debian `postgresql`) with a database per server."""
    if postgres_bindir() is None:
        pytest.fail("PostgreSQL is not installed: apt-get install -y postgresql (.ci/run does it)")
    with postgres_cluster(["prefect", "mlflow"]) as hostport:
        yield hostport


def psql(hostport: str, db: str, sql: str) -> str:
    host, port = hostport.split(":")
    cmd = [str(postgres_bindir() / "psql"), "-h", host, "-p", port, "-U", "postgres", "-d", db]
    done = subprocess.run(
        [*cmd, "-tAc", sql], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
def mlflow_url(home, database) -> str:
    """`mlflow server` with the PostgreSQL backend store and local-disk artifacts,
    proxied by the server (--serve-artifacts), as in infra/docker-compose.yml."""
    import os

    port = free_port()
    cmd = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--backend-store-uri", f"postgresql://postgres@{database}/mlflow", "--workers", "2"]
    cmd += ["--artifacts-destination", str(home / "mlflow-artifacts"), "--serve-artifacts"]
    # SQLAlchemy 2.1 drives postgresql:// with psycopg 3. clean_env sets PYTHONPATH to the
    # checkout; keep any extra entries of this environment.
    extra = os.environ.get("PYTHONPATH", "")
    env = clean_env(PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), extra])))
    probe = subprocess.run(
        [sys.executable, "-c", "import psycopg"], env=env, capture_output=True, check=False
    )
    assert probe.returncode == 0, (
        "mlflow server needs the PostgreSQL driver psycopg 3: add psycopg[binary] to pyproject.toml"
    )
    url = f"http://127.0.0.1:{port}"
    with started(cmd, env, home / "mlflow.log", f"{url}/health", timeout=180):
        yield url


@pytest.fixture(scope="module")
def prefect_url(home, database) -> str:
    """`prefect server start` on the same PostgreSQL cluster (asyncpg), as in the compose file."""
    port = free_port()
    env = clean_env(
        PREFECT_HOME=str(home / "prefect-server"),
        PREFECT_SERVER_DATABASE_CONNECTION_URL=f"postgresql+asyncpg://postgres@{database}/prefect",
    )
    cmd = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
    url = f"http://127.0.0.1:{port}/api"
    with started([*cmd, "--port", str(port)], env, home / "prefect.log", f"{url}/health", 240):
        yield url


@pytest.fixture(scope="module")
def client_env(home, prefect_url, mlflow_url) -> dict[str, str]:
    return clean_env(
        PREFECT_API_URL=prefect_url,
        PREFECT_HOME=str(home / "prefect-client"),
        MLFLOW_TRACKING_URI=mlflow_url,
    )


@pytest.fixture(scope="module")
def scenario(home, bank_slice) -> str:
    return tracked_scenario(home, bank_slice, "team", MODEL, **SMALL)


def stepstone(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen:
    """Start `stepstone ARGS` as its own process (a team member's shell)."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "pipelines.cli", *args],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def finish(process: subprocess.Popen, log: Path, timeout: float = 600) -> str:
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    assert process.returncode == 0, tail(log, 5000)
    return log.read_text(errors="replace")


def test_flow_retrain_and_four_overlapping_runs_on_postgres(
    home, database, client_env, prefect_url, mlflow_url, scenario
):
    start = time.monotonic()
    summaries = []
    out = home / "first.json"
    log = home / "first.log"
    finish(stepstone(client_env, log, "run", "--config", scenario, "--summary-json", str(out)), log)
    summaries.append(json.loads(out.read_text()))

    log = home / "retrain.log"
    printed = finish(stepstone(client_env, log, "retrain", "--config", scenario), log)
    assert "retrained=True" in printed, printed[-3000:]

    runs = []
    for i in range(4):  # 4 team members start a run at the same time
        out, log = home / f"run{i}.json", home / f"run{i}.log"
        args = ["run", "--config", scenario, "--summary-json", str(out)]
        runs.append((stepstone(client_env, log, *args), log, out))
    for process, log, out in runs:
        finish(process, log)
        summaries.append(json.loads(out.read_text()))
    elapsed = time.monotonic() - start
    print(f"team stack: flow + retrain + 4 overlapping runs in {elapsed:.0f} s")

    client = MlflowClient(mlflow_url, mlflow_url)
    parents = [client.get_run(s["parent_run_id"]) for s in summaries]
    assert all(p.info.status == "FINISHED" for p in parents)
    overlapping = sorted(parents[1:], key=lambda p: p.info.start_time)
    assert overlapping[-1].info.start_time < overlapping[0].info.end_time, "the 4 runs overlap"

    # 6 versions (flow, retrain, 4 runs), distinct numbers despite concurrent registration.
    versions = client.search_model_versions(f"name = '{MODEL}'")
    assert sorted(int(v.version) for v in versions) == list(range(1, 7))
    # search_model_versions leaves aliases out: read each version.
    aliases = {v.version: client.get_model_version(MODEL, v.version).aliases for v in versions}
    champions = [v for v, names in aliases.items() if "champion" in names]
    promoted = [s["registered_model"]["version"] for s in summaries]
    promoted = [v for v, s in zip(promoted, summaries) if s["registered_model"]["promoted"]]
    assert len(champions) == (1 if promoted else 0), aliases
    if champions:
        assert client.get_model_version_by_alias(MODEL, "champion").version == champions[0]
        assert champions[0] in [str(v) for v in promoted]
    assert sum("challenger" in names for names in aliases.values()) == 1, aliases

    # Promotions happen one at a time (pipelines.tracking.promotion_lock): each promoted
    # version (of all 6 registrations, the retrain's too) replaced the champion before it, so
    # they form one chain ending at the champion; two runs that both replaced the same
    # champion would break it.
    def decision(run) -> dict:
        folder = home / "decisions" / run.info.run_id
        folder.mkdir(parents=True)
        path = client.download_artifacts(run.info.run_id, "registry/decision.json", str(folder))
        return json.loads(Path(path).read_text())

    register_runs = client.search_runs([parents[0].info.experiment_id], "tags.stage = 'register'")
    decisions = [decision(r) for r in register_runs]
    assert len(decisions) == 6
    replaced = {
        d["previous_champion_version"]: str(d["version"]) for d in decisions if d["promoted"]
    }
    assert len(replaced) == sum(d["promoted"] for d in decisions), decisions
    chain, at = [], None
    while at in replaced:
        at = replaced[at]
        chain.append(at)
    assert len(chain) == len(replaced), (chain, replaced)
    assert chain[-1:] == champions[:1], (chain, champions)

    # Both servers really stored everything in PostgreSQL; the artifacts are on local disk.
    finished = psql(database, "mlflow", "select count(*) from runs where status = 'FINISHED'")
    assert int(finished) >= 6 * 5  # 6 parent runs and their stage runs
    versions_sql = f"select count(*) from model_versions where name = '{MODEL}'"
    assert psql(database, "mlflow", versions_sql) == "6"
    completed = psql(
        database, "prefect", "select count(*) from flow_run where state_type = 'COMPLETED'"
    )
    assert int(completed) >= 6
    failed = "select count(*) from flow_run where state_type in ('FAILED', 'CRASHED')"
    assert psql(database, "prefect", failed) == "0"
    assert list((home / "mlflow-artifacts").rglob("MLmodel")), "model artifacts on local disk"

    flow_runs = read(prefect_url, lambda c: c.read_flow_runs())
    assert sum(r.state.is_completed() for r in flow_runs) >= 6
