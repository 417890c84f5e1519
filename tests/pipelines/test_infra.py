"""infra/ and prefect.yaml cannot run here (Docker, Kubernetes, GPUs); keep them valid."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA = REPO_ROOT / "infra"


def placeholders(node) -> set[str]:
    """Every `{{ name }}` in a JSON/YAML tree."""
    text = json.dumps(node)
    return set(re.findall(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}", text))


def test_compose_has_the_team_stack():
    compose = yaml.safe_load((INFRA / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"prefect-server", "prefect-db", "mlflow-server", "mlflow-db", "minio"} <= set(services)
    assert "postgres" in services["prefect-db"]["image"]
    prefect_db_url = services["prefect-server"]["environment"][
        "PREFECT_SERVER_DATABASE_CONNECTION_URL"
    ]
    assert prefect_db_url.startswith("postgresql+asyncpg://") and "@prefect-db:" in prefect_db_url
    mlflow = services["mlflow-server"]
    assert "postgresql://" in mlflow["command"] and "s3://" in mlflow["command"]
    assert mlflow["environment"]["MLFLOW_S3_ENDPOINT_URL"] == "http://minio:9000"
    for service in services.values():
        for dependency in service.get("depends_on", {}):
            assert dependency in services
    for volume in [v.split(":")[0] for s in services.values() for v in s.get("volumes", [])]:
        assert volume in compose["volumes"]


def test_dockerfile_builds_a_cuda_runner_from_files_that_exist():
    lines = [
        line.strip()
        for line in (INFRA / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0].startswith("FROM ") and "cuda" in lines[0]
    assert any(line.startswith("CMD [") for line in lines)
    for line in lines:
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (REPO_ROOT / source).exists(), source


def test_kubernetes_job_template_requests_a_gpu_and_defines_its_variables():
    template = json.loads((INFRA / "k8s-gpu-job-template.json").read_text())
    manifest = template["job_configuration"]["job_manifest"]
    (container,) = manifest["spec"]["template"]["spec"]["containers"]
    assert "nvidia.com/gpu" in container["resources"]["limits"]
    assert "nvidia.com/gpu" in container["resources"]["requests"]
    assert placeholders(template["job_configuration"]) <= set(template["variables"]["properties"])


def prefect_deployments() -> list[dict]:
    return yaml.safe_load((REPO_ROOT / "prefect.yaml").read_text())["deployments"]


@pytest.mark.parametrize("deployment", prefect_deployments(), ids=lambda d: d["name"])
def test_prefect_yaml_deployment_points_at_a_flow_that_imports(deployment):
    from prefect.client.schemas.schedules import CronSchedule
    from prefect.flows import load_flow_from_entrypoint

    flow = load_flow_from_entrypoint(str(REPO_ROOT / deployment["entrypoint"]))
    parameters = inspect.signature(flow.fn).parameters
    assert set(deployment.get("parameters", {})) <= set(parameters)
    assert deployment["work_pool"]["name"] in {"stepstone-local", "stepstone-gpu"}
    for schedule in deployment.get("schedules", []):
        CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])


def test_prefect_yaml_has_nightly_on_demand_sweep_and_gpu_deployments():
    names = {d["name"] for d in prefect_deployments()}
    assert {"nightly-retrain", "on-demand", "sweep", "gpu-nightly-retrain"} <= names
    gpu = next(d for d in prefect_deployments() if d["name"] == "gpu-nightly-retrain")
    assert gpu["work_pool"]["name"] == "stepstone-gpu"
