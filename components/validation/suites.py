"""Great Expectations checks of one domain's table against the scenario's TableSchema.

`validate_domain` builds an ExpectationSuite from the schema, runs it in a throwaway
(ephemeral) GX context, and turns every failed expectation into a one-line message that
says which column is wrong, how, and what to change.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from components.data.schema import NumericRange, TableSchema

# great_expectations is imported inside the functions that build or run a suite: it takes
# seconds to import (startup time), and DomainValidation is needed without it.
if TYPE_CHECKING:
    import great_expectations as gx
    from great_expectations.core import ExpectationSuiteValidationResult
    from great_expectations.core.expectation_validation_result import ExpectationValidationResult

# dtype names GX accepts as "numeric": numpy names plus pandas' nullable extension dtypes.
NUMERIC_TYPES: list[str] = [
    *(f"int{b}" for b in (8, 16, 32, 64)),
    *(f"uint{b}" for b in (8, 16, 32, 64)),
    *(f"float{b}" for b in (16, 32, 64)),
    *(f"Int{b}Dtype" for b in (8, 16, 32, 64)),
    *(f"UInt{b}Dtype" for b in (8, 16, 32, 64)),
    "Float32Dtype",
    "Float64Dtype",
]

MAX_EXAMPLES = 5  # unexpected values quoted per failure message


@dataclass(frozen=True)
class DomainValidation:
    """Outcome of validating one domain: pass/fail, row count, readable failures, raw GX result."""

    domain: str
    success: bool
    rows: int
    failures: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self, *, include_raw: bool = False) -> dict[str, Any]:
        """JSON-ready dict; the (large) raw GX result only when asked for."""
        out = asdict(self)
        if not include_raw:
            out.pop("raw")
        return out


def build_suite(
    schema: TableSchema,
    name: str,
    *,
    labelled: bool,
    min_rows: int = 1,
    require_both_classes: bool = False,
    present: Collection[str] | None = None,
    required: dict[str, str] | None = None,
    features: bool = True,
) -> gx.ExpectationSuite:
    """The ExpectationSuite a domain's table must meet.

    `features=False` leaves out the feature columns' checks (levels, types, ranges, nulls):
    the row count and label checks of a split whose features were checked with the others.
    Columns missing from `present` (when given) only get "column exists", so GX reports
    them as missing instead of erroring on every check of a column that isn't there.
    `required` maps further columns that must exist to the config key that names them
    (for example the pool's truth column to `selection.truth`).
    """
    import great_expectations as gx
    import great_expectations.expectations as gxe

    # Collect first: ExpectationSuite.add_expectation needs an active GX context, the
    # constructor does not, so the suite can be built (and inspected) without one.
    expectations: list[gxe.Expectation] = []
    add = expectations.append

    def here(column: str) -> bool:
        return present is None or column in present

    add(gxe.ExpectTableRowCountToBeBetween(min_value=min_rows))
    for column, key in (required or {}).items():
        add(gxe.ExpectColumnToExist(column=column, meta={"config_key": key}))
    for column, levels in schema.categorical.items() if features else ():
        add(gxe.ExpectColumnToExist(column=column))
        if here(column):
            add(gxe.ExpectColumnValuesToBeInSet(column=column, value_set=list(levels)))
    for column, bounds in schema.numeric.items() if features else ():
        add(gxe.ExpectColumnToExist(column=column))
        if here(column):
            add(gxe.ExpectColumnValuesToBeInTypeList(column=column, type_list=NUMERIC_TYPES))
            if bounds.min is not None or bounds.max is not None:
                add(
                    gxe.ExpectColumnValuesToBeBetween(
                        column=column, min_value=bounds.min, max_value=bounds.max
                    )
                )
    for column in schema.feature_columns if features else ():
        if here(column) and column not in schema.nullable:
            add(gxe.ExpectColumnValuesToNotBeNull(column=column))

    if labelled:
        label = schema.label
        classes = [label.positive, label.negative]
        add(gxe.ExpectColumnToExist(column=label.column))
        if here(label.column):
            add(gxe.ExpectColumnValuesToBeInSet(column=label.column, value_set=classes))
            add(gxe.ExpectColumnValuesToNotBeNull(column=label.column))
            if require_both_classes:
                add(
                    gxe.ExpectColumnDistinctValuesToContainSet(
                        column=label.column, value_set=classes
                    )
                )
    return gx.ExpectationSuite(name=name, expectations=expectations)


def run_suite(df: pd.DataFrame, suite: gx.ExpectationSuite) -> ExpectationSuiteValidationResult:
    """Validate `df` against `suite` in a fresh ephemeral GX context (nothing written to disk)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    # GX sets this logger to INFO when first imported, which is now after the pipeline's
    # quiet_libraries() ran; keep its "Created temporary directory ..." lines quiet still.
    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch_definition = (
        context.data_sources.add_pandas("pandas")
        .add_dataframe_asset("table")
        .add_batch_definition_whole_dataframe("whole_table")
    )
    suite = context.suites.add(suite)
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"validate_{suite.name}", data=batch_definition, suite=suite)
    )
    return definition.run(batch_parameters={"dataframe": df}, result_format="SUMMARY")


def validate_domain(
    df: pd.DataFrame,
    schema: TableSchema,
    domain: str,
    *,
    labelled: bool,
    min_rows: int = 1,
    require_both_classes: bool = False,
    required: dict[str, str] | None = None,
    features: bool = True,
) -> DomainValidation:
    """Check one domain's table against the schema; never raises on bad data, reports it."""
    suite = build_suite(
        schema,
        name=domain,
        labelled=labelled,
        min_rows=min_rows,
        require_both_classes=require_both_classes,
        present=set(df.columns),
        required=required,
        features=features,
    )
    result = run_suite(df, suite)
    order = {
        (e.expectation_type, getattr(e, "column", None)): i
        for i, e in enumerate(suite.expectations)
    }
    failed = sorted(
        (r for r in result.results if not r.success),
        key=lambda r: order.get((r.expectation_config.type, _column(r)), len(order)),
    )
    not_numeric = {
        _column(r)
        for r in failed
        if r.expectation_config.type == "expect_column_values_to_be_in_type_list"
    }
    failures = [
        _describe(r, schema, len(df))
        for r in failed
        # A range check on a text column errors out; "not numeric" already says what is wrong.
        if not (_error_message(r) and _column(r) in not_numeric)
    ]
    return DomainValidation(
        domain=domain,
        success=bool(result.success),
        rows=len(df),
        failures=failures,
        raw=result.to_json_dict(),
    )


def _column(result: ExpectationValidationResult) -> str | None:
    """The column an expectation result is about (None for table-level ones)."""
    return result.expectation_config.kwargs.get("column")


def _error_message(result: ExpectationValidationResult) -> str | None:
    """GX's exception message when the expectation could not be evaluated at all."""
    info = result.exception_info or {}
    if info.get("raised_exception"):
        return str(info.get("exception_message"))
    # Metric errors come back keyed by metric id: {id: {"exception_message": ...}}.
    for value in info.values():
        if isinstance(value, dict) and value.get("exception_message"):
            return str(value["exception_message"])
    return None


def _examples(result: dict[str, Any]) -> str:
    """A few of the offending values, most frequent first."""
    counts = result.get("partial_unexpected_counts") or []
    values = [c["value"] for c in counts] or list(
        dict.fromkeys(result.get("partial_unexpected_list") or [])
    )
    return ", ".join(repr(v) for v in values[:MAX_EXAMPLES])


def _bounds(bounds: NumericRange) -> str:
    """A numeric range as text, e.g. '[16, 110]' or '>= 0'."""
    if bounds.min is not None and bounds.max is not None:
        return f"[{bounds.min:g}, {bounds.max:g}]"
    return f">= {bounds.min:g}" if bounds.min is not None else f"<= {bounds.max:g}"


def _describe(r: ExpectationValidationResult, schema: TableSchema, rows: int) -> str:
    """One readable line for a failed expectation: column, problem, examples, fix."""
    kind = r.expectation_config.type
    column = _column(r)
    res = dict(r.result or {})
    label = schema.label
    is_label = column == label.column
    what = f"label column '{column}'" if is_label else f"column '{column}'"
    n_bad = res.get("unexpected_count")

    if (error := _error_message(r)) is not None:
        return f"{what}: GX could not run {kind}: {error}"
    if kind == "expect_table_row_count_to_be_between":
        return (
            f"table has {rows} rows, expected at least "
            f"{r.expectation_config.kwargs.get('min_value')}; check the domain's query under "
            "data.domains in the scenario YAML, or the data file"
        )
    if kind == "expect_column_to_exist":
        where = (r.expectation_config.meta or {}).get("config_key") or (
            "data.schema.label" if is_label else "data.schema"
        )
        return (
            f"{what} is missing; add it to the data, or remove it from {where} in the scenario YAML"
        )
    if kind == "expect_column_values_to_be_in_type_list":
        return (
            f"{what} is not numeric (dtype {res.get('observed_value')}); fix the data so "
            f"it parses as numbers, or move it to data.schema.categorical in the scenario YAML"
        )
    if kind == "expect_column_values_to_be_in_set" and is_label:
        return (
            f"{what} has {n_bad} value(s) other than {label.positive!r}/{label.negative!r}, "
            f"e.g. {_examples(res)}; fix the data, or the classes under data.schema.label in the scenario YAML"
        )
    if kind == "expect_column_values_to_be_in_set":
        return (
            f"{what} has {n_bad} value(s) outside the allowed levels, e.g. {_examples(res)}; "
            f"add the value to data.schema.categorical.{column} in the scenario YAML, or fix the data"
        )
    if kind == "expect_column_values_to_be_between":
        return (
            f"{what} has {n_bad} value(s) outside {_bounds(schema.numeric[column])}, "
            f"e.g. {_examples(res)}; widen data.schema.numeric.{column} in the scenario YAML, "
            "or fix the data"
        )
    if kind == "expect_column_values_to_not_be_null" and is_label:
        return (
            f"{what} has {n_bad} missing label(s); every labelled row needs a label: "
            "drop those rows or fix the data"
        )
    if kind == "expect_column_values_to_not_be_null":
        return (
            f"{what} has {n_bad} null value(s) ({res.get('unexpected_percent', 0):.1f}%); "
            f"fill or drop them, or list '{column}' under data.schema.nullable in the scenario YAML"
        )
    if kind == "expect_column_distinct_values_to_contain_set":
        return (
            f"{what} lacks class(es) {res.get('partial_missing_list')}; both "
            f"{label.positive!r} and {label.negative!r} are needed to train and evaluate: "
            "check the domain's query or the labelled sample size"
        )
    return f"{what}: {kind} failed ({res})"
