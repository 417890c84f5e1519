"""Data validation (Great Expectations suites from the TableSchema), drift, and reports."""

from components.validation.drift import drift_report
from components.validation.report import render_markdown, validation_summary
from components.validation.suites import DomainValidation, build_suite, validate_domain

__all__ = [
    "DomainValidation",
    "build_suite",
    "drift_report",
    "render_markdown",
    "validate_domain",
    "validation_summary",
]
