# Two commands on a fresh machine (Python 3.11 + pip):  make run   and   make test
# Both create the locked environment (.venv from uv.lock) on first use.
UV ?= $(shell command -v uv 2>/dev/null || echo python3 -m uv)
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export DO_NOT_TRACK ?= true
export GX_ANALYTICS_ENABLED ?= false
export MLFLOW_DISABLE_TELEMETRY ?= true

.PHONY: run test env benchmark gpu-benchmark

env:
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen

run: env
	$(UV) run stepstone run

test: env
	$(UV) run pytest

benchmark: env
	$(UV) run python benchmarks/loan_marketing.py

gpu-benchmark: env
	$(UV) run python benchmarks/gpu_throughput.py
