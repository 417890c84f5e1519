"""Task retries for transient API errors: a stage that fails because the MLflow or Prefect
server was briefly unreachable, overloaded or answered 5xx runs again after a backoff; any
other failure (a StepstoneError about the user's data or config, a bug) fails at once.

The clients already retry single requests (MLflow: MLFLOW_HTTP_REQUEST_MAX_RETRIES; Prefect:
PREFECT_CLIENT_MAX_RETRIES); this is the second layer, for an outage longer than theirs. The
register stage is not retried: after its version is created, a rerun would make a second one.
"""

from __future__ import annotations

import httpx
import requests
from mlflow.exceptions import MlflowException, RestException
from prefect.tasks import exponential_backoff

from components.errors import StepstoneError

RETRIES = 2
DELAYS = exponential_backoff(backoff_factor=10)(RETRIES)  # 10 s, then 20 s
# HTTP 503 and 429 as MLflow names them (a 500 is INTERNAL_ERROR, also every exception's
# default code: not retried).
TRANSIENT_CODES = {"TEMPORARILY_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED"}
NETWORK = (
    ConnectionError,
    TimeoutError,
    httpx.TransportError,
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.RetryError,
)


def is_transient(exc: BaseException | None) -> bool:
    """A network or server-side error worth one more try, also when raised while handling
    one; never a StepstoneError (the user's to fix, e.g. a server URL that is wrong)."""
    while exc is not None:
        if isinstance(exc, StepstoneError):
            return False
        if isinstance(exc, NETWORK):
            return True
        if isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code >= 500:
            return True
        if isinstance(exc, RestException | MlflowException) and exc.error_code in TRANSIENT_CODES:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def retry_transient(task, task_run, state) -> bool:
    """Prefect's retry_condition_fn: retry only when the failure was transient."""
    return is_transient(state.data if isinstance(state.data, BaseException) else None)


# What every retried stage task passes to @task.
STAGE_RETRIES = {
    "retries": RETRIES,
    "retry_delay_seconds": DELAYS,
    "retry_jitter_factor": 0.5,
    "retry_condition_fn": retry_transient,
}
