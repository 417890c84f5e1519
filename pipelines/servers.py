"""Fail fast on server URLs: an unreachable Prefect API or MLflow tracking server is a clear
StepstoneError within seconds, instead of minutes of client retries."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request

from components.errors import StepstoneError
from pipelines.settings import redacted

TIMEOUT_S = 3.0


def check_reachable(url: str, variable: str, health: str, timeout: float = TIMEOUT_S) -> None:
    """GET `url` + `health` and expect a 2xx answer; anything else is an error that names the
    URL and the variable that set it."""
    probe = url.rstrip("/") + health
    try:
        with urllib.request.urlopen(probe, timeout=timeout):
            return
    except urllib.error.HTTPError as exc:
        reason = f"{redacted(probe)} answered HTTP {exc.code}, so this is not the expected server"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = f"{getattr(exc, 'reason', exc)}"
    raise StepstoneError(
        f"cannot reach {redacted(url)} (set by {variable}): {reason}. Start the server, or set "
        f"{variable} to its URL, or unset {variable} to use the local default."
    )


def is_http(url: str | None) -> bool:
    return bool(url) and url.startswith(("http://", "https://"))


def prefect_api_url() -> str | None:
    """PREFECT_API_URL from the environment or the active Prefect profile (None: ephemeral)."""
    from prefect.settings import PREFECT_API_URL

    return os.environ.get("PREFECT_API_URL") or PREFECT_API_URL.value()


def check_prefect(required: bool = False) -> str | None:
    """Check the Prefect API when one is configured; with `required`, insist on one."""
    url = prefect_api_url()
    if not url:
        if required:
            raise StepstoneError(
                "no Prefect server configured: start one with `prefect server start` and set "
                "PREFECT_API_URL=http://127.0.0.1:4200/api (or `prefect config set "
                "PREFECT_API_URL=...`)."
            )
        return None
    check_reachable(url, "PREFECT_API_URL", "/health")
    return url


def check_mlflow(uri: str) -> None:
    """Check an HTTP(S) MLflow tracking server; file and sqlite stores need no check."""
    if is_http(uri):
        check_reachable(uri, "MLFLOW_TRACKING_URI", "/health")


@contextlib.contextmanager
def local_prefect_starting():
    """With no PREFECT_API_URL, Prefect starts a local (ephemeral) API server when the first
    flow runs: 15-20 s on 2 cores with a new PREFECT_HOME. Inside this block (while the
    pipeline's modules import) that server starts in a thread; leaving the block waits for
    it, and the flow then finds it up (Prefect keeps one such server per process)."""
    if prefect_api_url():
        yield
        return
    from prefect.server.api.server import SubprocessASGIServer

    def start() -> None:
        with contextlib.suppress(Exception):  # on failure the flow starts it again and says why
            server = SubprocessASGIServer()
            if not server.running:  # one watchdog per server, however often the CLI is called
                server.start()
                stop_when_gone(server.server_process.pid)

    thread = threading.Thread(target=start, name="prefect-api", daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join()


# Run as `python -c WATCHDOG SERVER_PID PARENT_PID`, a child of the process that started the
# server: once that process is gone (its child is handed to another parent), stop the server.
WATCHDOG = """
import os, signal, sys, time
server, parent = int(sys.argv[1]), int(sys.argv[2])
try:  # a pidfd names this very process, so a reused pid is never signalled
    handle = os.pidfd_open(server) if hasattr(os, "pidfd_open") else None
except ProcessLookupError:
    sys.exit()
while os.getppid() == parent:
    time.sleep(1)
try:
    if handle is None:
        os.kill(server, signal.SIGTERM)
    else:
        signal.pidfd_send_signal(handle, signal.SIGTERM)
except ProcessLookupError:
    pass
"""


def stop_when_gone(server_pid: int) -> None:
    """Prefect stops its local server at exit (atexit), which a killed process (SIGKILL, the
    OOM killer, SIGTERM's default action) never reaches: the server would live on, holding a
    port and ~200 MB. A small watchdog process stops it once this process is gone."""
    watchdog = subprocess.Popen(
        [sys.executable, "-c", WATCHDOG, str(server_pid), str(os.getpid())],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _WATCHDOGS.append(watchdog)  # held, not waited for: it ends after this process


_WATCHDOGS: list[subprocess.Popen] = []
