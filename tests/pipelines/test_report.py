"""The report of a registered model version, built from MLflow alone, rendered in headless
Chromium: every embedded plot decodes, the tables are there, a missing artifact is named."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from pipelines.cli import main
from pipelines.report import build_report, log_report

URI = "models:/stepstone-test/1"
SECTIONS = [
    "Data versions and validation",
    "Drift",
    "Selection quality",
    "Arms and candidates",
    "Plots",
    "Lineage chain",
    "Promotion decision",
]
# Runs after the page's load event (every <img> decoded or failed): what the browser shows.
PROBE = """<script>
window.addEventListener("load", () => {
  const images = [...document.images].map(i => ({name: i.dataset.name, width: i.naturalWidth,
                                                 height: i.naturalHeight, done: i.complete}));
  const tables = [...document.querySelectorAll("table")].map(t => ({
    header: [...t.querySelectorAll("th")].map(th => th.textContent.trim()),
    rows: t.querySelectorAll("tbody tr").length}));
  const sections = [...document.querySelectorAll("h2")].map(h => h.textContent.trim());
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({images, tables, sections});
  document.body.appendChild(out);
});
</script>"""


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    assert path, "chromium is not installed: apt-get install -y chromium (.ci/run does it)"
    return path


def browse(html_file: Path) -> dict:
    """Open `html_file` in headless Chromium; return what the probe saw after load."""
    probed = html_file.with_name("probed.html")
    probed.write_text(html_file.read_text().replace("</body>", PROBE + "</body>"))
    cmd = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--virtual-time-budget=10000",
        f"--user-data-dir={html_file.parent / 'chromium-profile'}",
        "--dump-dom",
        probed.as_uri(),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, flags=re.DOTALL)
    assert found, f"no probe output (rc {done.returncode}):\n{done.stderr[-3000:]}"
    return json.loads(
        found.group(1).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    )


@pytest.fixture(scope="module")
def report(first_run):
    return build_report(URI)


def test_report_has_every_section_read_from_mlflow(report, first_run):
    text = report.markdown
    for title in SECTIONS:
        assert f"## {title}" in text
    assert "absent" not in text, "a tabular run records every artifact the report reads"
    assert first_run["data"]["md5"] in text and first_run["data"]["dvc_md5"] in text
    assert first_run["parent_run_id"] in text
    chain = "source data -> source model -> selection -> adapted network -> registered model"
    assert f"{chain} -> decision" in text
    assert f"(candidate {first_run['choice']['name']})" in text
    assert "### The choice (cross-validation on the labelled target rows only)" in text
    assert f"chose {first_run['choice']['name']}:" in text
    assert "stepstone-test-source/1" in text
    # The arms table, with confidence intervals, has every arm.
    for arm in ("transfer", "target_only", "pooled", "lgbm_pooled", "source_model"):
        assert f"| {arm} | " in text
    auc = first_run["metrics"]["transfer"]["auc"]
    assert re.search(rf"\| transfer \| {auc:.3f} \[0\.\d+, 0\.\d+\]", text)
    decision = first_run["registered_model"]
    words = "was **promoted to champion**" if decision["promoted"] else "was **not promoted**"
    assert words in text and decision["reason"].split(":")[0] in text
    names = {f.name for f in report.figures}
    assert {"evaluate-roc.png", "evaluate-gain_lift.png", "select_intermediate-scores.png"} <= names


def test_html_renders_in_chromium_with_every_image_loaded(report, tmp_path):
    page = tmp_path / "report.html"
    report.write_html(page)
    assert '<img src="data:image/png;base64,' in page.read_text()
    assert not re.search(r'(src|href)="(https?:|//)', page.read_text()), "self-contained"
    seen = browse(page)
    assert seen["sections"][: len(SECTIONS) + 1] == ["Summary", *SECTIONS]
    images = seen["images"]
    assert len(images) == len(report.figures) >= 4
    broken = [i["name"] for i in images if not (i["done"] and i["width"] > 0 and i["height"] > 0)]
    assert not broken, f"images that did not render: {broken}"
    headers = [t["header"] for t in seen["tables"]]
    assert ["arm", "auc", "pr_auc", "log_loss", "lift_top10", "lift_top20"] in headers
    assert ["step", "what", "record"] in headers
    assert any(h[:2] == ["domain", "column"] for h in headers), "the drift table"
    assert all(t["rows"] > 0 for t in seen["tables"])


def test_log_report_puts_both_files_on_the_parent_run(report, first_run):
    parent = first_run["parent_run_id"]
    log_report(parent, "stepstone-test", "1")  # outside a flow: no Prefect artifact, no error
    client = MlflowClient()
    logged = {a.path for a in client.list_artifacts(parent, "report")}
    assert {"report/report.html", "report/report.md", "report/images"} <= logged
    images = {Path(a.path).name for a in client.list_artifacts(parent, "report/images")}
    assert images == {f.name for f in report.figures}
    html = Path(client.download_artifacts(parent, "report/report.html")).read_text()
    assert html.count("data:image/png;base64,") == len(report.figures)


def test_log_report_in_a_flow_creates_the_prefect_markdown_artifact(first_run):
    import asyncio

    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    @flow(name="report-artifact-check")
    def reporting() -> None:
        log_report(first_run["parent_run_id"], "stepstone-test", "1")

    reporting()

    async def read():
        async with get_client() as client:
            return await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["stepstone-report"]))
            )

    (artifact, *_) = asyncio.run(read())
    assert artifact.type == "markdown"
    assert "## Promotion decision" in artifact.data and "| transfer |" in artifact.data
    assert "base64" not in artifact.data  # images are named, not embedded


def test_cli_writes_html_and_markdown_with_images(first_run, tmp_path, capsys):
    html, md = tmp_path / "r.html", tmp_path / "out" / "r.md"
    argv = ["report", "models:/stepstone-test@challenger", "--html", str(html), "--md", str(md)]
    assert main(argv) == 0
    assert html.read_text().startswith("<!DOCTYPE html>")
    text = md.read_text()
    for link in re.findall(r"\]\((images/[^)]+)\)", text):
        assert (md.parent / link).stat().st_size > 0


@pytest.mark.parametrize(
    ("uri", "fix"),
    [
        ("bogus", "models:/NAME@ALIAS or models:/NAME/VERSION"),
        ("models:/stepstone-test/999", "MLFLOW_TRACKING_URI points at the store"),
        ("models:/stepstone-test@nosuchalias", "Check the name, alias or version"),
    ],
)
def test_bad_uri_is_an_error_with_the_fix(first_run, uri, fix, capsys):
    assert main(["report", uri]) == 2
    err = capsys.readouterr().err
    assert fix in err and "Traceback" not in err


def test_missing_artifacts_are_named_absent(mlflow_store, tmp_path):
    """A version whose parent run has no stage runs (as if the stages logged nothing): every
    section still renders and says what is absent."""
    client = MlflowClient()
    experiment = client.create_experiment(f"report-bare-{tmp_path.name}")
    parent = client.create_run(experiment, run_name="bare")
    client.set_terminated(parent.info.run_id)
    name = f"report-bare-{tmp_path.name}".replace("_", "-")
    client.create_registered_model(name)
    (tmp_path / "model").mkdir()
    version = client.create_model_version(
        name, str(tmp_path / "model"), tags={"parent_run_id": parent.info.run_id}
    )
    report = build_report(f"models:/{name}/{version.version}")
    for what in (
        "validation/summary.json",
        "validation/report.md",
        "the drift table",
        "the select_intermediate stage run",
        "the comparison table",
        "evaluation plots",
        "the promotion decision",
    ):
        assert f"_absent: {what}" in report.markdown, what
    assert report.figures == ()
    assert "<h2>Lineage chain</h2>" in report.html
