"""`stepstone` command line: run, sweep, retrain, serve, validate, lineage, score."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from components.errors import StepstoneError
from pipelines.servers import check_mlflow, check_prefect, local_prefect_starting
from pipelines.settings import configure_offline


def _check_servers() -> None:
    """Fail within seconds, naming the variable, when a configured server is unreachable."""
    from pipelines.settings import tracking_uri

    check_mlflow(tracking_uri())
    check_prefect()


def parse_set(item: str) -> tuple[str, object]:
    """`--set choice.folds=3` -> ("choice.folds", 3): the value is read as YAML."""
    import yaml

    key, sep, value = item.partition("=")
    if not sep or not key:
        raise StepstoneError(f"--set {item!r} must look like KEY=VALUE, e.g. choice.folds=3.")
    return key.strip(), yaml.safe_load(value)


def _run(args: argparse.Namespace) -> int:
    _check_servers()
    with local_prefect_starting():
        from pipelines.flow import stepstone

    overrides = dict(parse_set(item) for item in args.set)
    if args.seed is not None:
        overrides["seed"] = args.seed
    if args.resume:
        print(f"resuming run {args.resume}: its finished stages and epochs are reused")
    summary = stepstone(
        config_path=str(args.config) if args.config else None,
        overrides=overrides,
        resume=args.resume,
    )
    print(summary["table"])
    print(f"chose {summary['choice']['name']}: {summary['choice']['reason']}")
    model = summary["registered_model"]
    print(
        f"registered {model['name']} v{model['version']} aliases={model['aliases']}: {model['reason']}"
    )
    print(f"MLflow parent run {summary['parent_run_id']} in experiment {summary['experiment']}")
    if args.summary_json:
        Path(args.summary_json).write_text(json.dumps(summary, indent=2, default=str))
    return 0


def _sweep(args: argparse.Namespace) -> int:
    with local_prefect_starting():
        from pipelines.sweep import run_sweep

    summary = run_sweep(str(args.config))
    print(summary["table"])
    model = summary["registered_model"]
    if model:
        print(
            f"registered {model['model_name']} v{model['version']} aliases={model['aliases']} "
            f"(best by {summary['criterion']}: {summary['best_arm']}): {model['reason']}"
        )
    print(f"MLflow parent run {summary['parent_run_id']} in experiment {summary['experiment']}")
    if args.summary_json:
        Path(args.summary_json).write_text(json.dumps(summary, indent=2, default=str))
    return 0


def _retrain(args: argparse.Namespace) -> int:
    _check_servers()
    with local_prefect_starting():
        from pipelines.retrain import retrain

    result = retrain(
        config_path=str(args.config) if args.config else None, only_new_data=args.only_new_data
    )
    print(f"retrained={result['retrained']}: {result['reason']}")
    if result["retrained"]:
        print(f"source model from cache: {result['source_cached']}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from pipelines.settings import redacted, tracking_uri

    _check_servers()
    check_prefect(required=True)
    from pipelines.serve import serve_schedule

    print(f"MLflow tracking: {redacted(tracking_uri())}")
    serve_schedule(str(args.config) if args.config else None, args.cron, args.timezone)
    return 0


def _validate(args: argparse.Namespace) -> int:
    from pipelines.data_checks import validate_config

    ok, report = validate_config(args.config)
    print(report)
    return 0 if ok else 1


def _lineage(args: argparse.Namespace) -> int:
    from pipelines import tracking
    from pipelines.lineage import lineage

    tracking.configure()
    info = lineage(args.model_uri)
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    model = info["model"]
    rows = {"model": f"{model['name']} v{model['version']}  aliases={model['aliases']}"}
    rows.update({key: str(value) for key, value in info["lineage"].items()})
    if info["parent_run"]:
        for key, value in sorted(info["parent_run"]["metrics"].items()):
            if key.endswith(("_auc", "_lift_top10", "_log_loss")):
                rows[key] = f"{value:.4f}"
    width = max(map(len, rows)) + 2
    for key, value in rows.items():
        print(f"{key:<{width}}{value}")
    return 0


def _score(args: argparse.Namespace) -> int:
    from pipelines import tracking
    from pipelines.scoring import score_csv

    tracking.configure()
    n, report = score_csv(args.model, args.input, args.output, separator=args.separator)
    unknown = report.summary() if report is not None else ""
    if unknown:
        print(f"stepstone: warning: {args.input}: {unknown}", file=sys.stderr)
    print(f"scored {n} rows -> {args.output}" + (f"; {unknown}" if unknown else ""))
    return 0


def _runs_clean(args: argparse.Namespace) -> int:
    from pipelines import resume as resuming
    from pipelines import tracking

    client = tracking.configure()
    marked = tracking.mark_orphans(client, stale_hours=args.stale_hours)
    for run_id in marked:
        run = client.get_run(run_id)
        name = run.data.tags.get("mlflow.runName", "")
        print(f"marked FAILED {run_id} ({name}): {run.data.tags[tracking.FAILURE_TAG]}")
    print(f"{len(marked)} orphaned run(s) marked FAILED")
    kept = resuming.kept_folders(client)
    for run_id, size in kept.items():
        if args.discard_work:
            resuming.discard(run_id)
        print(
            f"{'deleted' if args.discard_work else 'kept for --resume'}: "
            f"{resuming.run_folder(run_id)} ({size / 1e6:.1f} MB)"
        )
    if kept and not args.discard_work:
        print(
            f"{len(kept)} stopped run(s) can be finished with `stepstone run --resume RUN_ID`; "
            "`stepstone runs clean --discard-work` deletes their work folders instead"
        )
    return 0


def _data(args: argparse.Namespace) -> int:
    from pipelines.prepare import prepare_case

    manifest, dvc_file = prepare_case(args.case, args.out, args.seed, track=not args.no_dvc)
    print(f"wrote {manifest}" + (f", versioned by {dvc_file}" if dvc_file else ""))
    print(f"point data.path at {manifest} in a scenario YAML and run `stepstone run`")
    return 0


def _report(args: argparse.Namespace) -> int:
    from pipelines import tracking
    from pipelines.report import build_report

    tracking.configure()
    report = build_report(args.model_uri)
    if args.html:
        report.write_html(args.html)
        print(f"wrote {args.html}")
    if args.md:
        report.write_markdown(args.md)
        images = f" (+ {len(report.figures)} images beside it)" if report.figures else ""
        print(f"wrote {args.md}{images}")
    if not (args.html or args.md):
        print(report.markdown)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stepstone", description="Transitive transfer learning pipelines."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the whole pipeline for a scenario and register the model")
    run.add_argument(
        "--config", type=Path, help="scenario YAML (default: configs/loan_marketing.yaml)"
    )
    run.add_argument(
        "--summary-json", type=Path, help="write the run summary (run id, model, metrics) here"
    )
    run.add_argument(
        "--seed", type=int, help="override the scenario's seed (target split and training)"
    )
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config key (dotted path, YAML value); repeatable",
    )
    run.add_argument(
        "--resume",
        metavar="RUN_ID",
        help="finish a killed or crashed run (its parent run id; same --config and --set), "
        "reusing the stages it finished and the epochs it trained",
    )
    run.add_argument("--quiet", action="store_true", help="show no training progress")
    run.set_defaults(func=_run)
    sweep = sub.add_parser(
        "sweep", help="compare adaptation methods x hyperparameters x seeds in one run"
    )
    sweep.add_argument(
        "--config", type=Path, required=True, help="scenario YAML with a `sweep:` section"
    )
    sweep.add_argument("--summary-json", type=Path, help="write the sweep summary here")
    sweep.add_argument("--quiet", action="store_true", help="show no training progress")
    sweep.set_defaults(func=_sweep)
    ret = sub.add_parser(
        "retrain", help="retrain on the current data version, reusing the cached source model"
    )
    ret.add_argument(
        "--config", type=Path, help="scenario YAML (default: configs/loan_marketing.yaml)"
    )
    ret.add_argument(
        "--only-new-data",
        action="store_true",
        help="do nothing when the newest registered model was trained on this data version",
    )
    ret.add_argument("--quiet", action="store_true", help="show no training progress")
    ret.set_defaults(func=_retrain)
    srv = sub.add_parser(
        "serve", help="serve the nightly and on-demand retrain deployments on a Prefect server"
    )
    srv.add_argument(
        "--config", type=Path, help="scenario YAML (default: configs/loan_marketing.yaml)"
    )
    srv.add_argument("--cron", default="0 2 * * *", help="nightly schedule (default 02:00)")
    srv.add_argument("--timezone", default="UTC", help="time zone of the cron schedule")
    srv.set_defaults(func=_serve)
    val = sub.add_parser("validate", help="check a scenario's config and data without training")
    val.add_argument(
        "--config", type=Path, help="scenario YAML (default: configs/loan_marketing.yaml)"
    )
    val.set_defaults(func=_validate)
    lin = sub.add_parser(
        "lineage", help="show which data, code, config and parent model made a model"
    )
    lin.add_argument("model_uri", help="models:/NAME@ALIAS or models:/NAME/VERSION")
    lin.add_argument("--json", action="store_true", help="print JSON")
    lin.set_defaults(func=_lineage)
    score = sub.add_parser("score", help="score a CSV of raw rows into a ranked customer list")
    score.add_argument(
        "--model", required=True, help="model URI, e.g. models:/stepstone-loan-marketing@champion"
    )
    score.add_argument("--input", required=True, type=Path, help="CSV of raw rows (may be gzipped)")
    score.add_argument(
        "--output", required=True, type=Path, help="CSV to write, best prospects first"
    )
    score.add_argument(
        "--separator", default=None, help="input separator (default: sniffed , or ;)"
    )
    score.set_defaults(func=_score)
    report = sub.add_parser(
        "report", help="one report (markdown + HTML with the plots) of a registered model version"
    )
    report.add_argument("model_uri", help="models:/NAME@ALIAS or models:/NAME/VERSION")
    report.add_argument("--html", type=Path, help="write the self-contained HTML report here")
    report.add_argument("--md", type=Path, help="write the markdown report here (images beside it)")
    report.set_defaults(func=_report)
    data = sub.add_parser(
        "data",
        help="write a built-in case (image files + manifest, or a table of reviews), DVC-tracked",
    )
    data.add_argument("case", choices=["digits", "rotating-mnist", "mnist-usps", "amazon-reviews"])
    data.add_argument("--out", required=True, type=Path, help="folder to write")
    data.add_argument("--seed", type=int, default=0, help="seed of the domain draw")
    data.add_argument("--no-dvc", action="store_true", help="do not `dvc add` the folder")
    data.set_defaults(func=_data)
    runs = sub.add_parser("runs", help="housekeeping of the MLflow runs")
    runs_sub = runs.add_subparsers(dest="runs_command", required=True)
    clean = runs_sub.add_parser(
        "clean",
        help="mark FAILED the RUNNING runs whose process is gone (killed, machine rebooted)",
    )
    clean.add_argument(
        "--stale-hours",
        type=float,
        default=24.0,
        help="also mark runs without host/pid tags RUNNING for longer than this (default 24)",
    )
    clean.add_argument(
        "--discard-work",
        action="store_true",
        help="delete the work folders kept for `run --resume` of stopped runs (give up resuming)",
    )
    clean.set_defaults(func=_runs_clean)
    return parser


def main(argv: list[str] | None = None) -> int:
    configure_offline()
    args = build_parser().parse_args(argv)
    from components import progress

    if getattr(args, "quiet", False):
        os.environ["STEPSTONE_QUIET"] = "1"  # read by components.progress, here and in workers
    progress.to_console()  # Prefect's root logger is at WARNING: progress lines go to stderr
    try:
        return args.func(args)
    except StepstoneError as error:
        print(f"stepstone: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
