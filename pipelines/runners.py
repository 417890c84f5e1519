"""The one place a Prefect Dask task runner is built (prefect-dask)."""

from __future__ import annotations

from prefect_dask import DaskTaskRunner


def dask_runner(workers: int, address: str | None = None) -> DaskTaskRunner:
    """An existing Dask scheduler at `address`, or a local cluster of `workers`
    single-threaded worker processes."""
    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": workers,
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": None,
        }
    )
