"""Start and stop real `prefect server`, `prefect worker` and `mlflow server` processes for
tests: loopback only, temp homes, bounded waits, always stopped (process group) at the end."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = os.path.dirname(sys.executable)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without Prefect/MLflow server settings, plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PREFECT_API", "MLFLOW_TRACKING", "PREFECT_HOME"))
    }
    return {
        **env,
        "PATH": f"{BIN}:{env['PATH']}",
        "PYTHONPATH": str(REPO_ROOT),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "DO_NOT_TRACK": "true",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        **extra,
    }


def tail(log: Path, chars: int = 3000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else ""


def stop(process: subprocess.Popen) -> None:
    """SIGTERM the process group we started, SIGKILL it if it is still there after 20 s."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@contextlib.contextmanager
def started(
    cmd: list[str], env: dict[str, str], log: Path, health: str | None, timeout: float = 120
) -> Iterator[subprocess.Popen]:
    """Run `cmd` in its own process group; wait for `health` to answer 200; stop it on exit."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + timeout
        while health:
            try:
                with urllib.request.urlopen(health, timeout=2):
                    break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(f"{cmd[:4]} exited early:\n{tail(log)}") from None
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{health} not up in {timeout} s:\n{tail(log)}") from None
                time.sleep(0.5)
        yield process
    finally:
        stop(process)


@contextlib.contextmanager
def served_model(model_uri: str, store: str, log: Path, timeout: float = 180) -> Iterator[int]:
    """`mlflow models serve --env-manager local` on a loopback port; yields the port."""
    port = free_port()
    cmd = [sys.executable, "-m", "mlflow", "models", "serve", "-m", model_uri,
           "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    # clean_env puts the venv's bin first on PATH: the scoring server execs `uvicorn` from it.
    env = clean_env(MLFLOW_TRACKING_URI=store)
    with started(cmd, env, log, f"http://127.0.0.1:{port}/ping", timeout=timeout):
        yield port


def python(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run `python ARGS` in the repository root with `env`; capture its text output."""
    return subprocess.run(
        [sys.executable, *args],
        check=False,
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def prefect_cli(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """Run `prefect ARGS` in the repository root; return its output, fail with it."""
    done = python(env, "-m", "prefect", *args, timeout=timeout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def run_deployment(api_url: str, name: str, parameters: dict, timeout: float = 300):
    """Create a flow run of deployment `name` through the Prefect client; wait until it ends."""
    from prefect.client.orchestration import PrefectClient

    async def go():
        async with PrefectClient(api_url) as client:
            deployment = await client.read_deployment_by_name(name)
            run = await client.create_flow_run_from_deployment(deployment.id, parameters=parameters)
            deadline = time.monotonic() + timeout
            while not (run := await client.read_flow_run(run.id)).state.is_final():
                assert time.monotonic() < deadline, (
                    f"{name} still {run.state.name} after {timeout} s"
                )
                await asyncio.sleep(2)
            return run

    return asyncio.run(go())


def read(api_url: str, call):
    """Await `call(client)` against the Prefect API at `api_url`."""
    from prefect.client.orchestration import PrefectClient

    async def go():
        async with PrefectClient(api_url) as client:
            return await call(client)

    return asyncio.run(go())


def flow_logs(api_url: str, flow_run_id) -> str:
    """The flow run's log lines as the Prefect server stored them (for failure messages)."""
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    logs = read(
        api_url,
        lambda c: c.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))),
    )
    return "\n".join(f"{log.level} {log.message}" for log in logs)[-4000:]


def postgres_bindir() -> Path | None:
    """The newest Debian PostgreSQL server binaries (/usr/lib/postgresql/N/bin), or those on PATH."""
    import shutil

    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@contextlib.contextmanager
def postgres_cluster(databases: list[str], timeout: float = 60) -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a loopback port with `databases` created; yields
    `127.0.0.1:PORT` (user `postgres`, trust auth on loopback only). As root the server runs
    as the `postgres` user (initdb refuses root); the cluster lives in its own temp folder
    (pytest's tmp_path is private to root) and is stopped and deleted at the end."""
    import pwd
    import shutil
    import tempfile

    bindir = postgres_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed: apt-get install -y postgresql")
    root = Path(tempfile.mkdtemp(prefix="stepstone-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(root, account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, log, port = root / "data", root / "postgres.log", free_port()

    def pg(tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [*as_user, str(bindir / tool), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"{tool} failed: {done.stdout}{done.stderr}\n{tail(log)}")
        return done

    options = (
        f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
    )
    try:
        pg("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale")
        pg("pg_ctl", "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start")
        for name in databases:
            pg("createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", name)
        yield f"127.0.0.1:{port}"
    finally:
        if (data / "postmaster.pid").exists():
            pg("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop", check=False)
        shutil.rmtree(root, ignore_errors=True)
