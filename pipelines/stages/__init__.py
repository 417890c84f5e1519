"""Prefect tasks, one module per stage. Each wraps components/ and logs to MLflow."""
