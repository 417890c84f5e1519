"""Resume benchmark: the time `stepstone run --resume` saves over starting a killed run again.

A reference `stepstone run` (fresh temp MLflow store, Prefect home and work folder) gives the
cost of starting over. Then, for each kill point (a fraction of the reference's wall time), a
fresh run on its own fresh stores is SIGKILLed at that moment and finished with `--resume`;
the resume's wall time is what the kill cost. The resumed run must register a model whose
summary (test metrics) equals the reference's: same config, same seed. One JSON line.

    uv run python benchmarks/resume.py [--config configs/loan_marketing.yaml] [--at 0.5 0.85]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from startup import REPO_ROOT, command  # benchmarks/startup.py, beside this file


def environment(home: Path) -> dict[str, str]:
    """A fresh store, Prefect home (its result store holds the stage cache) and work folder."""
    home.mkdir(parents=True)
    return {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PREFECT_API", "MLFLOW_TRACKING", "STEPSTONE_STATE"))
        },
        "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}",
        "PREFECT_HOME": str(home / "prefect"),
        "STEPSTONE_STATE_DIR": str(home / "state"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "true",
        "GX_ANALYTICS_ENABLED": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [*command(), "run", "--quiet", *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(proc: subprocess.Popen, timeout: float) -> None:
    out, _ = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        raise SystemExit(f"stepstone run failed ({proc.returncode}):\n{out[-4000:]}")


def registered(summary: Path) -> dict:
    """What identifies the outcome: the chosen candidate and its test metrics."""
    data = json.loads(summary.read_text())
    return {"candidate": data["registered_model"]["candidate"], "metrics": data["metrics"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/loan_marketing.yaml")
    parser.add_argument("--at", type=float, nargs="+", default=[0.5, 0.85])
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="stepstone-resume-"))
    trials = []
    try:
        home = root / "reference"
        began = time.perf_counter()
        finish(
            start(
                ["--config", args.config, "--summary-json", str(home / "s.json")], environment(home)
            ),
            args.timeout,
        )
        fresh_s = time.perf_counter() - began
        reference = registered(home / "s.json")
        for fraction in args.at:
            home = root / f"kill-{fraction}"
            env = environment(home)
            summary = home / "s.json"
            proc = start(["--config", args.config, "--summary-json", str(summary)], env)
            time.sleep(fraction * fresh_s)
            if proc.poll() is not None:
                raise SystemExit(f"the run ended before the kill at {fraction:.0%}")
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            (run_id,) = [p.name for p in (home / "state" / "runs").iterdir()]
            began = time.perf_counter()
            finish(
                start(
                    ["--config", args.config, "--summary-json", str(summary), "--resume", run_id],
                    env,
                ),
                args.timeout,
            )
            resume_s = time.perf_counter() - began
            trials.append(
                {
                    "killed_at_s": round(fraction * fresh_s, 1),
                    "resume_s": round(resume_s, 1),
                    "saved_s": round(fresh_s - resume_s, 1),
                    "same_model_as_reference": registered(summary) == reference,
                }
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(
        json.dumps(
            {
                "benchmark": "resume",
                "config": args.config,
                "cores": os.cpu_count(),
                "fresh_run_s": round(fresh_s, 1),
                "trials": trials,
            }
        )
    )


if __name__ == "__main__":
    main()
