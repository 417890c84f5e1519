"""Process-wide defaults: offline (no analytics or telemetry) and where MLflow stores runs.

Call `configure_offline()` before importing prefect, mlflow or great_expectations.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from components.errors import StepstoneError

REPO_ROOT = Path(__file__).resolve().parent.parent
OFFLINE_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "true",
    "GX_ANALYTICS_ENABLED": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "HF_HUB_OFFLINE": "1",  # text models load from local folders only; nothing is downloaded
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "GIT_PYTHON_REFRESH": "quiet",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "MLFLOW_LOGGING_LEVEL": "WARNING",
    # Prefect's 20 s for the ephemeral server to come up is too short on a busy 2-core machine.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}


def configure_offline() -> None:
    """Turn analytics and telemetry off unless the user set these variables themselves,
    and keep library chatter (MLflow hints, GX temp dirs) out of the terminal."""
    for key, value in OFFLINE_DEFAULTS.items():
        os.environ.setdefault(key, value)
    quiet_libraries()
    for name in ("prefect.flow_runs", "prefect.task_runs"):
        logging.getLogger(name).addFilter(_user_error_without_traceback)
    warnings.filterwarnings(
        "ignore", message=".*Integer columns in Python cannot represent missing values.*"
    )


def _user_error_without_traceback(record: logging.LogRecord) -> bool:
    """Keep Prefect's one-line log of a failed flow or task run, but drop the traceback when
    the error is a StepstoneError: the user's input caused it and its message names the fix."""
    if record.exc_info and isinstance(record.exc_info[1], StepstoneError):
        record.exc_info = record.exc_text = None
    return True


def quiet_libraries() -> None:
    """Library INFO chatter off; call again after Prefect has configured logging."""
    # GX sets INFO on this one logger at import ("Created temporary directory ...").
    for name in ("great_expectations", "great_expectations.data_context.types.base", "dvc"):
        logging.getLogger(name).setLevel(logging.WARNING)


def redacted(uri: str) -> str:
    """`uri` with any password replaced by ***, for printing (postgresql://u:pw@h/db ->
    postgresql://u:***@h/db). Secrets belong in the environment, never in logs."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI if set, else the sqlite store in the repository's mlruns/."""
    default = f"sqlite:///{REPO_ROOT / 'mlruns' / 'mlflow.db'}"
    return os.environ.get("MLFLOW_TRACKING_URI") or default


def artifact_location(uri: str, experiment: str) -> str | None:
    """For a sqlite store, keep artifacts beside the database file; a server decides itself."""
    if not uri.startswith("sqlite:///"):
        return None
    db_path = Path(uri.removeprefix("sqlite:///"))
    return (db_path.parent / "artifacts" / experiment).resolve().as_uri()
