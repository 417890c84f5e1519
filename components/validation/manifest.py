"""Great Expectations checks of an image manifest (one row per image file): every domain
has rows, every path names an existing file, labels lie in the declared classes, and the
labelled splits hold more than one class. Each file is decoded (and checked) later."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from components.validation.suites import DomainValidation, _examples, run_suite

# great_expectations is imported where a suite is built: it takes seconds (startup time).
if TYPE_CHECKING:
    import great_expectations as gx

EXISTS = "_file_exists"  # added to a copy of the rows: does the row's path name a file?


def manifest_suite(
    name: str,
    path_column: str,
    label_column: str,
    classes: list,
    *,
    labelled: bool,
    min_rows: int,
    several_classes: bool,
    required: dict[str, str] | None,
    present: set[str],
) -> gx.ExpectationSuite:
    """The ExpectationSuite one split of a manifest must meet."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    found = [gxe.ExpectTableRowCountToBeBetween(min_value=min_rows)]
    for column, key in {path_column: "data.path_column", **(required or {})}.items():
        found.append(gxe.ExpectColumnToExist(column=column, meta={"config_key": key}))
    if path_column in present:
        found += [
            gxe.ExpectColumnValuesToNotBeNull(column=path_column),
            gxe.ExpectColumnValuesToBeInSet(column=EXISTS, value_set=[True]),
        ]
    if labelled:
        found.append(gxe.ExpectColumnToExist(column=label_column))
        if label_column in present:
            found += [
                gxe.ExpectColumnValuesToNotBeNull(column=label_column),
                gxe.ExpectColumnValuesToBeInSet(
                    column=label_column, value_set=[str(c) for c in classes]
                ),
            ]
            if several_classes:
                found.append(
                    gxe.ExpectColumnUniqueValueCountToBeBetween(column=label_column, min_value=2)
                )
    return gx.ExpectationSuite(name=name, expectations=found)


def validate_manifest(
    rows: pd.DataFrame,
    name: str,
    path_column: str,
    label_column: str,
    classes: list,
    *,
    labelled: bool,
    min_rows: int = 1,
    several_classes: bool = False,
    required: dict[str, str] | None = None,
) -> DomainValidation:
    """Check one split of a manifest; never raises on bad data, reports it."""
    table = rows.copy()
    if path_column in table.columns:
        table[EXISTS] = [isinstance(p, str) and Path(p).is_file() for p in table[path_column]]
    if label_column in table.columns:  # labels compared as text: 3, 3.0 and "3" are one class
        table[label_column] = table[label_column].map(_text, na_action="ignore")
    suite = manifest_suite(
        name,
        path_column,
        label_column,
        classes,
        labelled=labelled,
        min_rows=min_rows,
        several_classes=several_classes,
        required=required,
        present=set(table.columns),
    )
    result = run_suite(table, suite)
    failures = [
        _describe(r, table, path_column, label_column, classes)
        for r in result.results
        if not r.success
    ]
    return DomainValidation(name, bool(result.success), len(rows), failures, result.to_json_dict())


def _text(value) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _describe(r, table: pd.DataFrame, path_column: str, label_column: str, classes: list) -> str:
    kind, res = r.expectation_config.type, dict(r.result or {})
    column = r.expectation_config.kwargs.get("column")
    if kind == "expect_table_row_count_to_be_between":
        return (
            f"has {len(table)} images, expected at least "
            f"{r.expectation_config.kwargs.get('min_value')}; check the domain's query under "
            "data.domains, or the manifest"
        )
    if kind == "expect_column_to_exist":
        key = (r.expectation_config.meta or {}).get("config_key", "data.label.column")
        return f"column '{column}' is missing from the manifest; add it, or fix {key}"
    if column == EXISTS:
        missing = table.loc[~table[EXISTS], path_column].head(3).tolist()
        return (
            f"{res.get('unexpected_count')} image file(s) do not exist, e.g. {missing}; fix "
            f"the manifest's '{path_column}' column (paths are relative to the manifest)"
        )
    if kind == "expect_column_values_to_be_in_set":
        return (
            f"label column '{column}' has {res.get('unexpected_count')} value(s) outside the "
            f"declared classes {classes}, e.g. {_examples(res)}; fix the data or "
            "data.label.classes"
        )
    if kind == "expect_column_values_to_not_be_null":
        what = "image path(s)" if column == path_column else "missing label(s)"
        return (
            f"column '{column}' has {res.get('unexpected_count')} {what}; fill or drop those rows"
        )
    if kind == "expect_column_unique_value_count_to_be_between":
        return (
            f"label column '{column}' holds only {res.get('observed_value')} class; at least "
            "two are needed to train and evaluate: check the domain's query"
        )
    return f"column '{column}': {kind} failed ({res})"
