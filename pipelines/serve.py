"""`stepstone serve`: the retraining schedule, served by this process against a Prefect server.

Two deployments of the retrain flow: `served-nightly` on a cron schedule (retrains only
when a new data version arrived) and `served-on-demand` (trigger it from the UI or
`prefect deployment run stepstone-retrain/served-on-demand`). For workers and work pools
instead of a serving process, see prefect.yaml and infra/README.md.
"""

from __future__ import annotations

from pathlib import Path

from prefect import serve
from prefect.schedules import Cron

from pipelines.retrain import retrain
from pipelines.servers import check_prefect

NIGHTLY_CRON = "0 2 * * *"


def deployments(config_path: str | None, cron: str = NIGHTLY_CRON, timezone: str = "UTC") -> list:
    """The nightly and on-demand deployments of the retrain flow for one scenario."""
    config = str(Path(config_path).resolve()) if config_path else None
    nightly = retrain.to_deployment(
        name="served-nightly",
        schedule=Cron(cron, timezone=timezone),
        parameters={"config_path": config, "only_new_data": True},
        tags=["stepstone", "retrain", "scheduled"],
        description="Retrain when a new DVC data version has arrived.",
    )
    on_demand = retrain.to_deployment(
        name="served-on-demand",
        parameters={"config_path": config},
        tags=["stepstone", "retrain"],
        description="Retrain now, on the current data version.",
    )
    return [nightly, on_demand]


def serve_schedule(
    config_path: str | None, cron: str = NIGHTLY_CRON, timezone: str = "UTC"
) -> None:
    """Register the deployments on the Prefect server and run their flow runs until stopped."""
    url = check_prefect(required=True)
    print(f"serving stepstone-retrain (nightly '{cron}' {timezone}, on-demand) against {url}")
    serve(*deployments(config_path, cron, timezone), print_starting_message=False)
