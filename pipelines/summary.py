"""The end of a run: print the evaluation table and what was registered, and return the
summary keys every run has."""

from __future__ import annotations

from pipelines.config import PipelineConfig


def registered_summary(
    config: PipelineConfig, evaluation: dict, registered: dict, test_rows: str
) -> dict:
    """Print the arms table (`test_rows` names what it was scored on) and the registration;
    return the registered model, its URI, the metrics and the table."""
    print(f"\nstepstone {config.name}: {test_rows}\n{evaluation['table']}")
    print(
        f"registered {registered['model_name']} v{registered['version']} "
        f"aliases={registered['aliases']}: {registered['reason']}"
    )
    return {
        "registered_model": {
            "name": registered["model_name"],
            **{k: registered[k] for k in ("version", "aliases", "promoted", "reason")},
            "candidate": registered.get("candidate", "transfer"),
        },
        "model_uri": f"models:/{registered['model_name']}/{registered['version']}",
        "metric": config.modality_impl().metric,
        "metrics": evaluation["metrics"],
        "table": evaluation["table"],
    }
