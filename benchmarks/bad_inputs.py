"""Bad-inputs benchmark: every door of the product (config, data, scoring, serving, resume,
CLI) tried with inputs a user can get wrong, through the real `stepstone` commands on a temp
MLflow store. Per input: the exit code (HTTP status for serving), the first line of the message,
whether a traceback leaked, and for `run` whether the parent run ended FAILED with the registry
untouched. One JSON line; `--markdown PATH` also writes the table.

    uv run python benchmarks/bad_inputs.py [--markdown docs/results/issue18/bad_inputs.md]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from pipelines.settings import configure_offline

configure_offline()

import pandas as pd
import yaml

BANK = REPO_ROOT / "data" / "bank-additional-full.csv.gz"
FAST = {  # small but real training: the doors are what is measured here
    "pretrain": {"epochs": 2},
    "adaptation": {"train": {"epochs": 3}},
    "evaluation": {"bootstrap": 50},
    "validation": {"min_rows": 20},
    "target": {"labelled": 60},
    "choice": {"folds": 3, "repeats": 1},
    "registry": {"model_name": "stepstone-bad-inputs"},
}


def cli(args: list[str]) -> tuple[int, str]:
    """`stepstone ARGS` in this process; its exit code and what a user would see on stderr:
    what goes through sys.stderr and the log records Prefect's console handler prints (it
    holds the original stderr, which redirect_stderr does not reach)."""
    from pipelines.cli import main

    err = io.StringIO()
    logs = logging.StreamHandler(err)  # the default format appends a record's traceback
    root = logging.getLogger()
    root.addHandler(logs)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                code = main(args)
            except SystemExit as exit_:  # argparse's own errors
                code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        root.removeHandler(logs)
    return code, err.getvalue()


class Doors:
    """The temp store, a good bank slice and a good scenario YAML to break one thing at a time."""

    def __init__(self, home: Path):
        self.home = home
        self.rows = pd.read_csv(BANK, sep=";").iloc[::8].reset_index(drop=True)
        self.data = self.write_rows(self.rows, "bank.csv")
        self.config = self.write_config("good.yaml")
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient()

    def write_rows(self, rows: pd.DataFrame, name: str) -> Path:
        path = self.home / name
        rows.to_csv(path, sep=";", index=False)
        return path

    def write_config(self, name: str, rows: Path | None = None, **changes) -> Path:
        """The shipped loan-marketing YAML on `rows` (default the good slice), FAST, `changes`."""
        raw = yaml.safe_load((REPO_ROOT / "configs" / "loan_marketing.yaml").read_text())
        raw["data"]["path"] = str(rows or self.data)
        for section, values in {**FAST, **changes}.items():
            if isinstance(values, dict) and isinstance(raw.get(section), dict):
                raw[section] = {**raw[section], **values}
            else:
                raw[section] = values
        path = self.home / name
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
        return path

    def with_domains(self, name: str, **queries: str) -> Path:
        """The good YAML with some domain queries replaced."""
        data = yaml.safe_load(self.config.read_text())["data"]
        return self.write_config(name, data={**data, "domains": {**data["domains"], **queries}})

    def registry(self) -> set:
        versions = self.client.search_model_versions(f"name = '{FAST['registry']['model_name']}'")
        return {(v.version, tuple(sorted(v.aliases))) for v in versions}

    def newest_parent(self) -> str | None:
        runs = self.client.search_runs(
            [e.experiment_id for e in self.client.search_experiments()],
            "attributes.status != 'RUNNING'",
            order_by=["attributes.start_time DESC"],
            max_results=50,
        )
        parent = next((r for r in runs if "mlflow.parentRunId" not in r.data.tags), None)
        return parent.info.run_id if parent else None

    def run(self, config: Path, *extra: str) -> dict:
        """`stepstone run` on `config`: exit code, message, run status, registry untouched."""
        before_registry, before_run = self.registry(), self.newest_parent()
        code, err = cli(["run", "--config", str(config), "--quiet", *extra])
        after = self.newest_parent()
        status = None if after == before_run else self.client.get_run(after).info.status
        return {
            "code": code,
            "message": err,
            "run_status": status or "no run started",
            "registry_untouched": self.registry() == before_registry,
        }


def first_line(message: str) -> str:
    """The error line (with the line after it when it ends in a colon), else the last line."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    for at, line in enumerate(lines):
        if line.startswith("Error:") or "stepstone: error" in line or "warning:" in line:
            if line.endswith(":") and at + 1 < len(lines):
                line = f"{line} {lines[at + 1]}"
            return line[:300]
    return (lines[-1] if lines else "")[:300]


def config_cases(d: Doors) -> dict[str, Callable[[], dict]]:
    def broken(name: str, text: str) -> Path:
        path = d.home / name
        path.write_text(text)
        return path

    def knob(key: str, section: str, values: dict) -> tuple[str, Callable[[], dict]]:
        return key, lambda: d.run(d.write_config(f"{key}.yaml", **{section: values}))

    adapt = yaml.safe_load(d.config.read_text())["adaptation"]
    cases = {
        "config file missing": lambda: d.run(d.home / "nope.yaml"),
        "malformed YAML": lambda: d.run(broken("bad.yaml", "name: [unclosed\n")),
        "unknown key": lambda: d.run(d.write_config("typo.yaml", pretrian={"epochs": 1})),
        "base file missing": lambda: d.run(broken("variant.yaml", "base: missing.yaml\n")),
        "--set on an unknown key": lambda: d.run(d.config, "--set", "adaptation.lrr=0.1"),
        "source query overlaps target (leak)": lambda: d.run(
            d.with_domains("leak.yaml", source="year >= 2008")
        ),
        "unsupervised target with a label-hungry method": lambda: d.run(
            d.write_config(
                "unsup.yaml", target={"labelled": 0}, adaptation={**adapt, "method": "finetune"}
            )
        ),
    }
    cases.update(
        dict(
            [
                knob(
                    "adaptation.train.lr: -1",
                    "adaptation",
                    {**adapt, "train": {**adapt["train"], "lr": -1}},
                ),
                knob("pretrain.epochs: 0", "pretrain", {"epochs": 0}),
                knob(
                    "adaptation.train.batch_size: 0",
                    "adaptation",
                    {**adapt, "train": {**adapt["train"], "batch_size": 0}},
                ),
                knob("selection.fraction: 1.5", "selection", {"fraction": 1.5}),
                knob("evaluation.ci_level: 1", "evaluation", {"ci_level": 1.0}),
                knob("choice.folds: 1", "choice", {"folds": 1}),
            ]
        )
    )
    return cases


def data_cases(d: Doors) -> dict[str, Callable[[], dict]]:
    def with_rows(name: str, change: Callable[[pd.DataFrame], pd.DataFrame]) -> dict:
        data = d.write_rows(change(d.rows.copy()), f"{name}.csv")
        return d.run(d.write_config(f"{name}.yaml", rows=data))

    def set_cell(column: str, row: int, value) -> Callable[[pd.DataFrame], pd.DataFrame]:
        def change(rows: pd.DataFrame) -> pd.DataFrame:
            rows = rows.astype({column: object})
            rows.loc[row, column] = value
            return rows

        return change

    def garbage() -> dict:
        path = d.home / "garbage.csv"
        path.write_bytes(os.urandom(2048))
        return d.run(d.write_config("garbage.yaml", rows=path))

    def declined(rows: pd.DataFrame) -> pd.DataFrame:
        months = ["mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        year = rows["month"].map(months.index).diff().lt(0).cumsum()  # 0, 1, 2 = 2008-2010
        rows.loc[year == 2, "y"] = "no"
        return rows

    return {
        "data file missing": lambda: d.run(d.write_config("nodata.yaml", rows=d.home / "x.csv")),
        "data file is binary garbage": garbage,
        "a schema column missing": lambda: with_rows("nojob", lambda r: r.drop(columns=["job"])),
        "a category the schema lacks": lambda: with_rows(
            "cat", set_cell("marital", 3, "complicated")
        ),
        "an empty value in a numeric column": lambda: with_rows("nan", set_cell("age", 5, None)),
        "a label value outside positive/negative": lambda: with_rows(
            "label", set_cell("y", 7, "maybe")
        ),
        "a numeric value out of its range": lambda: with_rows("range", set_cell("age", 9, 400)),
        "a domain query that matches no row": lambda: d.run(
            d.with_domains("empty.yaml", intermediate="year == 1999")
        ),
        "a domain query that is not valid pandas": lambda: d.run(
            d.with_domains("query.yaml", target="year === 2010")
        ),
        "every target customer declined (one class)": lambda: with_rows("oneclass", declined),
    }


def scoring_cases(d: Doors, model: str) -> dict[str, Callable[[], dict]]:
    customers = d.rows.drop(columns=["y", "duration"]).head(30).reset_index(drop=True)

    def score(name: str, frame_or_text, model_uri: str = model) -> dict:
        path = d.home / f"{name}.csv"
        if isinstance(frame_or_text, pd.DataFrame):
            frame_or_text.to_csv(path, index=False)
        elif frame_or_text is not None:
            path.write_text(frame_or_text)
        out = d.home / f"{name}-ranked.csv"
        code, err = cli(["score", "--model", model_uri, "--input", str(path), "--output", str(out)])
        return {"code": code, "message": err}

    def cell(column: str, row: int, value) -> pd.DataFrame:
        frame = customers.astype({column: object})
        frame.loc[row, column] = value
        return frame

    return {
        "score: column `age` missing": lambda: score("noage", customers.drop(columns=["age"])),
        "score: two columns missing": lambda: score(
            "notwo", customers.drop(columns=["job", "euribor3m"])
        ),
        "score: text in a numeric column": lambda: score("text", cell("age", 2, "forty")),
        "score: decimal comma": lambda: score("comma", cell("euribor3m", 0, "4,857")),
        "score: true/false in a count": lambda: score("bool", customers.assign(campaign=True)),
        "score: header only": lambda: score("header", customers.head(0)),
        "score: empty file": lambda: score("empty", ""),
        "score: input file missing": lambda: score("absent", None),
        "score: unknown model": lambda: score("model", customers, "models:/no-such-model/1"),
        "score: unknown category (scored, counted)": lambda: score(
            "astronaut", customers.assign(job="astronaut")
        ),
    }


def serving_cases(d: Doors, model: str) -> dict[str, Callable[[], dict]]:
    """The HTTP app `mlflow models serve` runs, in process (mlflow.pyfunc.scoring_server)."""
    import mlflow
    from fastapi.testclient import TestClient
    from mlflow.pyfunc import scoring_server

    app = TestClient(scoring_server.init(mlflow.pyfunc.load_model(model)))
    customers = d.rows.drop(columns=["y", "duration"]).head(5).reset_index(drop=True)

    def post(frame: pd.DataFrame) -> dict:
        body = {"dataframe_split": json.loads(frame.to_json(orient="split", index=False))}
        response = app.post("/invocations", json=body)
        answer = response.json()
        return {"code": response.status_code, "message": answer.get("message", "200 OK")}

    return {
        "serve: column `age` missing": lambda: post(customers.drop(columns=["age"])),
        "serve: text in a numeric column": lambda: post(
            customers.astype({"age": object}).assign(age="forty")
        ),
        "serve: unknown category (scored)": lambda: post(customers.assign(job="astronaut")),
    }


def other_cases(d: Doors, finished_run: str) -> dict[str, Callable[[], dict]]:
    def command(*args: str) -> dict:
        code, err = cli(list(args))
        return {"code": code, "message": err}

    return {
        "run --resume an unknown run": lambda: d.run(d.config, "--resume", "nosuchrun"),
        "run --resume a finished run": lambda: d.run(d.config, "--resume", finished_run),
        "unknown command": lambda: command("trian"),
        "unknown option": lambda: command("run", "--confg", str(d.config)),
        "lineage of an unknown model": lambda: command("lineage", "models:/no-such-model/1"),
        "report of an unknown version": lambda: command(
            "report", f"models:/{FAST['registry']['model_name']}/99"
        ),
        "validate a missing config": lambda: command("validate", "--config", "nope.yaml"),
    }


EXPECTED_OK = {"score: unknown category (scored, counted)", "serve: unknown category (scored)"}


def verdict(name: str, result: dict) -> bool:
    """A clear refusal: exit 2 (HTTP 400), no traceback; a run FAILED or never started, with
    the registry untouched. The two unknown-category cases must score (0 / 200) instead."""
    if name in EXPECTED_OK:
        return result["code"] in (0, 200)
    clear = result["code"] in (2, 400) and "Traceback" not in result["message"]
    if "run_status" in result:
        clear &= result["run_status"] in ("FAILED", "no run started")
        clear &= result["registry_untouched"]
    return clear


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stepstone-bad-") as tmp:
        home = Path(tmp)
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{home / 'mlflow.db'}"
        os.environ["STEPSTONE_STATE_DIR"] = str(home / "state")
        os.environ["PREFECT_HOME"] = str(home / "prefect")
        d = Doors(home)
        code, err = cli(["run", "--config", str(d.config), "--quiet"])
        if code != 0:
            sys.exit(f"the good run failed ({code}):\n{err[-4000:]}")
        good_run = d.newest_parent()
        model = f"models:/{FAST['registry']['model_name']}/1"
        rows = []
        doors = {
            "config": config_cases(d),
            "data": data_cases(d),
            "scoring": scoring_cases(d, model),
            "serving": serving_cases(d, model),
            "resume / CLI": other_cases(d, good_run),
        }
        for door, cases in doors.items():
            for name, case in cases.items():
                result = case()
                rows.append(
                    {
                        "door": door,
                        "input": name,
                        "code": result["code"],
                        "run": result.get("run_status", ""),
                        "clear": verdict(name, result),
                        "message": first_line(result["message"]).replace(tmp, "TMP"),
                    }
                )
                print(
                    f"{door:>12} | {name:<48} | {result['code']} | {rows[-1]['message'][:90]}",
                    file=sys.stderr,
                )
    bad = [r for r in rows if r["input"] not in EXPECTED_OK]
    summary = {
        "benchmark": "bad_inputs",
        "inputs": len(rows),
        "bad_inputs": len(bad),
        "clear_refusals": sum(r["clear"] for r in bad),
        "unclear": [r["input"] for r in rows if not r["clear"]],
        "cases": rows,
    }
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        lines = ["| door | input | exit | run | clear | message |", "|---|---|---|---|---|---|"]
        lines += [
            f"| {r['door']} | {r['input']} | {r['code']} | {r['run']} | "
            f"{'yes' if r['clear'] else 'NO'} | {r['message'].replace('|', '/')} |"
            for r in rows
        ]
        args.markdown.write_text("\n".join(lines) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
