"""One report per registered model version, read from MLflow only: data versions and
validation, drift, selection quality, the arms table with CIs, the plots, the lineage chain
and the promotion decision. Markdown + self-contained HTML (components/evaluation/html_report)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from components.errors import StepstoneError
from components.evaluation.html_report import (
    Figure,
    Report,
    Section,
    absent,
    build,
    demote_headings,
    key_values,
    table,
)
from pipelines.lineage import resolve_version

REPORT_DIR = "report"
PREFECT_KEY = "stepstone-report"
DRIFT_COLUMNS = ("domain", "column", "kind", "psi", "ks", "tvd", "severity", "shifted", "detail")
HEADLINE = ("auc", "pr_auc", "log_loss", "lift_top10", "lift_top20", "accuracy")


class _Runs:
    """The parent run's stage runs (by stage tag or run name) and their artifacts."""

    def __init__(self, client: MlflowClient, parent, workdir: Path):
        self.client, self.parent, self.workdir = client, parent, workdir
        self.stages: dict[str, object] = {}
        if parent is None:
            return
        children = client.search_runs(
            [parent.info.experiment_id],
            f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
            order_by=["attributes.start_time ASC"],
        )
        for run in children:  # a later run of the same stage wins
            stage = run.data.tags.get("stage") or run.info.run_name
            self.stages[stage] = run

    def run(self, stage: str):
        return self.stages.get(stage)

    def text(self, stage: str, path: str) -> str | None:
        run = self.run(stage)
        if run is None:
            return None
        try:
            local = self.client.download_artifacts(run.info.run_id, path, str(self.workdir / stage))
            return Path(local).read_text()
        except (MlflowException, OSError):
            return None

    def json(self, stage: str, path: str):
        text = self.text(stage, path)
        try:
            return None if text is None else json.loads(text)
        except ValueError:
            return None

    def pngs(self, stage: str, folder: str) -> list[Figure]:
        """Every PNG artifact under `folder` of the stage run, as figures named STAGE-FILE."""
        run = self.run(stage)
        if run is None:
            return []
        try:
            listed = self.client.list_artifacts(run.info.run_id, folder)
        except (MlflowException, OSError):
            return []
        figures = []
        for item in sorted(listed, key=lambda a: a.path):
            if item.is_dir or not item.path.endswith(".png"):
                continue
            try:
                local = self.client.download_artifacts(
                    run.info.run_id, item.path, str(self.workdir / stage)
                )
                png = Path(local).read_bytes()
            except (MlflowException, OSError):
                continue
            name = Path(item.path).name
            caption = f"{stage}: {name.removesuffix('.png').replace('_', ' ')}"
            figures.append(Figure(caption, f"{stage}-{name}", png))
        return figures


@contextlib.contextmanager
def _quiet_downloads():
    """No tqdm bars for the many small artifact downloads of one report."""
    old = os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", None)
        else:
            os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = old


def _logged_table(data) -> tuple[list[str], list[list]] | None:
    """The columns and rows of an `mlflow.log_table` JSON artifact (`columns` + `data`)."""
    if isinstance(data, dict) and "columns" in data and "data" in data:
        return list(data["columns"]), [list(r) for r in data["data"]]
    if isinstance(data, list) and data and isinstance(data[0], dict):
        columns = list(data[0])
        return columns, [[row.get(c) for c in columns] for row in data]
    return None


def _when(ms: int | None) -> str:
    if not ms:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _data_section(version, runs: _Runs) -> Section:
    tags = version.tags
    pairs = {
        "data file": tags.get("data_path"),
        "data md5 (file)": tags.get("data_md5"),
        "DVC md5 (data.dvc)": tags.get("dvc_md5"),
        "git commit": tags.get("git_commit"),
        "config hash": tags.get("config_hash"),
        "Prefect flow run": tags.get("prefect_flow_run_id"),
        "MLflow parent run": tags.get("parent_run_id"),
        "validation": tags.get("validation"),
    }
    body = key_values(pairs)
    summary = runs.json("validate", "validation/summary.json")
    body += "\n### Validation summary\n\n"
    if isinstance(summary, dict):
        domains = summary.get("domains") if isinstance(summary.get("domains"), dict) else {}
        drifted = summary.get("drifted_columns") or {}
        rows = [
            [
                domain,
                "pass" if info.get("success") else "FAIL",
                info.get("rows"),
                "; ".join(map(str, info.get("failures") or [])) or "-",
                ", ".join(drifted.get(domain, [])) if isinstance(drifted, dict) else "-",
            ]
            for domain, info in domains.items()
            if isinstance(info, dict)
        ]
        rows += [[d, "-", "-", "-", ", ".join(c)] for d, c in drifted.items() if d not in domains]
        verdict = "all checks passed" if summary.get("success") else "some checks FAILED"
        body += f"Great Expectations: {verdict}.\n\n"
        body += table(["domain", "result", "rows", "failures", "drifted columns"], rows)
    else:
        body += absent("validation/summary.json")
    report = runs.text("validate", "validation/report.md")
    if report:  # its drift part is the Drift section
        cut = re.search(r"^#+ .*drift.*$", report, flags=re.MULTILINE | re.IGNORECASE)
        report = (
            report[: cut.start()] + "\n(The drift table is in the Drift section.)\n"
            if cut
            else report
        )
    body += "\n### Validation report\n\n" + (
        demote_headings(report, 2) if report else absent("validation/report.md")
    )
    return Section("Data versions and validation", body)


def _drift_section(runs: _Runs) -> Section:
    parsed = _logged_table(runs.json("validate", "validation/drift.json"))
    if parsed is None:
        return Section("Drift", absent("the drift table (validation/drift.json)"))
    columns, rows = parsed
    keep = [c for c in DRIFT_COLUMNS if c in columns] or columns
    picked = [[row[columns.index(c)] for c in keep] for row in rows]
    shifted = sum(1 for row in rows if "shifted" in columns and row[columns.index("shifted")])
    intro = f"{len(rows)} column comparisons against the source (reference) domain"
    intro += f", {shifted} shifted.\n\n" if "shifted" in columns else ".\n\n"
    return Section("Drift", intro + table(keep, picked))


def _selection_section(runs: _Runs) -> Section:
    run = runs.run("select_intermediate")
    if run is None:
        return Section("Selection quality", absent("the select_intermediate stage run"))
    params = {k: v for k, v in sorted(run.data.params.items()) if k.startswith("selection_")}
    metrics = dict(sorted(run.data.metrics.items()))
    body = f"Stage run `{run.info.run_id}`.\n\n"
    body += key_values(metrics, ("metric", "value")) if metrics else absent("selection metrics")
    if {"pool_rows", "selected_rows"} <= metrics.keys() and metrics["pool_rows"]:
        share = metrics["selected_rows"] / metrics["pool_rows"]
        body += f"\nKept {int(metrics['selected_rows'])} of {int(metrics['pool_rows'])} pool rows ({share:.1%}).\n"
    body += "\n### Selector settings\n\n" + (
        key_values(params, ("parameter", "value")) if params else absent("selector parameters")
    )
    by_truth = _logged_table(runs.json("select_intermediate", "selection/selected_by_truth.json"))
    if by_truth is not None:
        body += "\n### Selected share by true position\n\n" + table(*by_truth)
    figures = runs.pngs("select_intermediate", "selection")
    if not figures:
        body += "\n" + absent("selection plots (selection/*.png)") + "\n"
    return Section("Selection quality", body, tuple(figures))


def _arms_section(runs: _Runs) -> Section:
    parsed = _logged_table(runs.json("evaluate", "evaluation/comparison.json"))
    body = ""
    if parsed is not None:
        columns, rows = parsed
        metrics = [m for m in HEADLINE if m in columns] or [
            c for c in columns if c != "arm" and not c.endswith(("_lo", "_hi"))
        ][:6]
        compact = []
        for row in rows:
            values = dict(zip(columns, row))
            cells = [values.get("arm", "")]
            for m in metrics:
                v, lo, hi = values.get(m), values.get(f"{m}_lo"), values.get(f"{m}_hi")
                if isinstance(v, (int, float)) and isinstance(lo, (int, float)):
                    cells.append(f"{v:.3f} [{lo:.3f}, {hi:.3f}]")
                else:
                    cells.append(v)
            compact.append(cells)
        body += "Point estimate [95% bootstrap CI] on the target test rows.\n\n"
        body += table(["arm", *metrics], compact)
    choice = runs.text("choose", "choice/choice.md")
    if choice:
        body += (
            "\n### The choice (cross-validation on the labelled target rows only)\n\n"
            + choice
            + "\n"
        )
    full = runs.text("evaluate", "evaluation/comparison.md")
    if full:
        body += "\n### Full comparison table\n\n" + full
    if not body:
        body = absent("the comparison table (evaluation/comparison.md)")
    return Section("Arms and candidates", body)


def _plots_section(runs: _Runs) -> Section:
    figures = runs.pngs("evaluate", "evaluation")
    for stage in ("adapt_target", "pretrain_source", "register"):
        run = runs.run(stage)
        if run is None:
            continue
        try:
            folders = [a.path for a in runs.client.list_artifacts(run.info.run_id) if a.is_dir]
        except (MlflowException, OSError):
            folders = []
        for folder in folders:
            figures += runs.pngs(stage, folder)
    body = "" if figures else absent("evaluation plots (evaluation/*.png)")
    return Section("Plots", body, tuple(figures))


def _decision(runs: _Runs) -> dict | None:
    decision = runs.json("register", "registry/decision.json")
    return decision if isinstance(decision, dict) else None


def _lineage_section(version, runs: _Runs, decision: dict | None) -> Section:
    tags = version.tags
    selection = runs.run("select_intermediate")
    adapt = runs.run("adapt_target")
    kept = selection.data.metrics.get("selected_rows") if selection else None
    method = selection.data.params.get("selection_method") if selection else None
    adaptation = adapt.data.params.get("adapt_method") if adapt else None
    promoted = None if decision is None else decision.get("promoted")
    steps = [
        [
            "source data",
            tags.get("data_path") or "-",
            f"md5 {tags.get('data_md5') or '-'}, DVC md5 {tags.get('dvc_md5') or '-'}",
        ],
        [
            "source model",
            tags.get("source_model_version") or "-",
            f"run {tags.get('source_run_id') or '-'}",
        ],
        [
            "selection",
            f"{method or '-'}, {int(kept) if kept is not None else '-'} pool rows kept",
            f"run {tags.get('selection_run_id') or '-'}",
        ],
        [
            "adapted network",
            adaptation or "-",
            f"run {tags.get('adapt_run_id') or version.run_id}",
        ],
        [
            "registered model",
            f"{version.name} v{version.version} (candidate {tags.get('candidate', 'transfer')})",
            f"chosen in run {tags.get('choice_run_id') or '-'}",
        ],
        [
            "decision",
            "absent"
            if promoted is None
            else ("promoted to champion" if promoted else "stays challenger"),
            (decision or {}).get("reason", "-"),
        ],
    ]
    chain = " -> ".join(step[0] for step in steps)
    body = f"`{chain}`\n\n" + table(["step", "what", "record"], steps)
    return Section("Lineage chain", body)


def _decision_section(version, decision: dict | None) -> Section:
    aliases = ", ".join(sorted(version.aliases)) or "none"
    if decision is None:
        return Section(
            "Promotion decision",
            absent("the promotion decision (registry/decision.json)")
            + f"\n\nCurrent aliases of v{version.version}: {aliases}.",
        )
    promoted = bool(decision.get("promoted"))
    words = (
        f"Version {version.version} of {version.name} was **promoted to champion** because "
        if promoted
        else f"Version {version.version} of {version.name} was **not promoted**; it was registered as challenger because "
    )
    words += f"{decision.get('reason', 'no reason was recorded')}."
    previous = decision.get("previous_champion_version")
    words += (
        f" The champion before this run was version {previous}."
        if previous
        else " There was no champion before this run, so the bar was the baseline."
    )
    numbers = {k: v for k, v in decision.items() if k not in {"reason"}}
    body = words + f"\n\nCurrent aliases of v{version.version}: {aliases}.\n\n"
    body += key_values(numbers, ("field", "value"))
    return Section("Promotion decision", body)


def _resolve(client: MlflowClient, ref: str):
    uri = ref if ref.startswith("models:/") else f"models:/{ref}"
    if uri == "models:/" or ("@" not in uri and uri.count("/") < 2):
        raise StepstoneError(
            f"{ref!r} is not a model version; give models:/NAME@ALIAS or models:/NAME/VERSION "
            "(e.g. models:/stepstone-loan-marketing@champion)."
        )
    return resolve_version(client, uri)


def build_report(model: str, client: MlflowClient | None = None) -> Report:
    """The report of the registered version at `model` (models:/NAME@ALIAS, models:/NAME/V or
    NAME/V), read from its tags, its parent run, the nested stage runs and their artifacts."""
    client = client or MlflowClient()
    version = _resolve(client, model)
    parent_id = version.tags.get("parent_run_id")
    parent = None
    if parent_id:
        try:
            parent = client.get_run(parent_id)
        except MlflowException:
            parent = None
    with tempfile.TemporaryDirectory(prefix="stepstone-report-") as tmp, _quiet_downloads():
        runs = _Runs(client, parent, Path(tmp))
        decision = _decision(runs)
        head = (
            f"Model **{version.name}** version **{version.version}** "
            f"(aliases: {', '.join(sorted(version.aliases)) or 'none'}), registered "
            f"{_when(version.creation_timestamp)} from run `{version.run_id}`."
        )
        if parent is None:
            head += "\n\n" + absent(f"the parent run ({parent_id or 'no parent_run_id tag'})")
        else:
            scenario = parent.data.tags.get("scenario") or parent.info.run_name
            head += f"\n\nParent run `{parent_id}` ({scenario}), status {parent.info.status}."
        sections = [
            Section("Summary", head),
            _data_section(version, runs),
            _drift_section(runs),
            _selection_section(runs),
            _arms_section(runs),
            _plots_section(runs),
            _lineage_section(version, runs, decision),
            _decision_section(version, decision),
        ]
    return build(f"stepstone report: {version.name} v{version.version}", sections)


def log_report(parent_run_id: str, model_name: str, version: str) -> None:
    """Log `report/report.html`, `report/report.md` (+ `report/images/`) on the parent run and,
    inside a Prefect flow or task run, a markdown artifact `stepstone-report`."""
    client = MlflowClient()
    report = build_report(f"models:/{model_name}/{version}", client)
    with tempfile.TemporaryDirectory(prefix="stepstone-report-") as tmp:
        report.write_markdown(Path(tmp) / "report.md")
        report.write_html(Path(tmp) / "report.html")
        client.log_artifacts(parent_run_id, tmp, REPORT_DIR)
    _prefect_artifact(report, model_name, version)


def _prefect_artifact(report: Report, model_name: str, version: str) -> str | None:
    """A Prefect markdown artifact of the report (images named, not embedded) when a flow or
    task run is active; None otherwise."""
    from prefect.context import FlowRunContext, TaskRunContext

    if FlowRunContext.get() is None and TaskRunContext.get() is None:
        return None
    from prefect.artifacts import create_markdown_artifact

    text = report.markdown
    for figure in report.figures:
        text = text.replace(
            f"![{figure.caption}](images/{figure.name})",
            f"- plot: {figure.caption} (`{REPORT_DIR}/images/{figure.name}` on the MLflow run)",
        )
    artifact = create_markdown_artifact(
        markdown=text,
        key=PREFECT_KEY,
        description=f"Report of {model_name} v{version} (HTML with plots: MLflow {REPORT_DIR}/report.html)",
    )
    return str(artifact)
