# Two commands on a fresh machine (Python 3.11 + pip):  make run   and   make test
# Both create the locked environment (.venv from uv.lock) on first use.
UV ?= $(shell command -v uv 2>/dev/null || echo python3 -m uv)
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export DO_NOT_TRACK ?= true
export GX_ANALYTICS_ENABLED ?= false
export MLFLOW_DISABLE_TELEMETRY ?= true

.PHONY: run test env benchmark gpu-benchmark

# `uv sync` only when the lock or the project changed (a no-op sync re-checks ~24k files,
# seconds on every run); the commands then run without syncing again.
env: .venv/.synced

.venv/.synced: uv.lock pyproject.toml
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen
	@touch $@

run: env
	$(UV) run --no-sync stepstone run

test: env
	$(UV) run --no-sync pytest

benchmark: env
	$(UV) run --no-sync python benchmarks/loan_marketing.py

gpu-benchmark: env
	$(UV) run --no-sync python benchmarks/gpu_throughput.py
