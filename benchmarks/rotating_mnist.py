"""Rotating MNIST (Kumar, Ma and Liang 2020): target accuracy of source-only, self-training
on the target alone, all pool at once, gradual self-training along each selector's order
(and IDOL-style progressive re-scoring), and along the true (oracle) order. One JSON line.

    python benchmarks/rotating_mnist.py            # reduced CPU protocol (see REDUCED)
    python benchmarks/rotating_mnist.py --full     # Kumar et al.'s sizes and epochs, 5 seeds

Protocol: shuffled MNIST train; source 5,000 images at 0-5 deg (+1,000 validation), pool
42,000 at 5-60 deg handed over SHUFFLED (angles hidden from every selector but `oracle`),
target 2,000 unlabelled images at 55-60 deg; accuracy is measured on 2,000 further images
at 55-60 deg that no arm trains on. Selectors score the pool in the source model's features;
every gradual arm cuts the whole pool into `steps` chunks along its order, then ends on the
target; with `--jitter J` each order is also cut with selection.jitter J (arm
gradual_<selector>_jitter, same source model and order), and with `--draws K` along K such
cuts walked side by side, each step pseudo-labelled by the K current models' mean, and the
final models averaged (arm gradual_<selector>_jitter_ensemble<K>, transit.draws K); the
true order is not jittered. `--neighbours k` votes every gradual arm's pseudo-labels over
each row's k nearest rows (transit.gradual.neighbours k).
Published (Kumar et al.): source 31.9, target self-train 33.0, all at once 38.0, gradual
with the true order 87.9; IDOL 87.5.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import pandas as pd
import torch

from components.adaptation.gradual import (
    chunk_path,
    gradual_self_train,
    jittered_paths,
    progressive_self_train,
)
from components.adaptation.spec import GradualSpec
from components.data.images import GradualImages, RotationSpec, rotating_mnist
from components.evaluation import summarise_seeds
from components.models.cnn import SmallCNN
from components.models.ensemble import Ensemble
from components.models.loop import fit
from components.models.rows import Labelled
from components.models.spec import TrainSpec
from components.models.training import embed, predict_proba, resolve_device, seed_everything
from components.selection import SelectionSpec, SideInfo, select
from components.selection import report as selection_report
from components.selection.base import Selection

SELECTORS = ("discriminator", "graph", "kernel", "ddtl", "all", "oracle")
FULL = {
    "pool": 42000,
    "source_epochs": 10,
    "step_epochs": 10,
    "steps": 21,
    "seeds": [0, 1, 2, 3, 4],
}
PUBLISHED = {
    "source_only": 0.319,
    "target_self_train": 0.330,
    "all_at_once": 0.380,
    "gradual_oracle": 0.879,
    "idol": 0.875,
}
# CPU routine run: the full data and source training, 3 of 10 epochs per step, 3 of 5 seeds.
REDUCED = {"pool": 42000, "source_epochs": 10, "step_epochs": 3, "steps": 21, "seeds": [0, 1, 2]}


def pretrain(data: GradualImages, epochs: int, seed: int, device: torch.device) -> SmallCNN:
    seed_everything(seed)
    model = SmallCNN((1, 28, 28), 10)
    train = TrainSpec(epochs=epochs, batch_size=128, lr=1e-3)
    fit(model, Labelled.of(data.source_x, data.source_y), train, seed=seed, device=device)
    return model


def run_seed(
    data: GradualImages, args: argparse.Namespace, seed: int, device: torch.device
) -> dict:
    """Every arm on one seed's data: test accuracy, seconds and order quality per arm."""
    train = TrainSpec(epochs=args.step_epochs, batch_size=128, lr=1e-3)
    spec = GradualSpec(train=train, neighbours=args.neighbours)
    source = pretrain(data, args.source_epochs, seed, device)
    accuracy = {"source_only": top1(source, data), "source_val": top1(source, data, val=True)}
    seconds, spearman, draws = {}, {}, {}

    def gradual(arm: str, steps: list[np.ndarray], extra: float = 0.0) -> None:
        start = time.perf_counter()
        model, _ = gradual_self_train(source, steps, spec, seed, device=device)
        accuracy[arm], seconds[arm] = (
            top1(model, data),
            round(time.perf_counter() - start + extra, 1),
        )

    gradual("target_self_train", [data.target_x] * args.steps)
    gradual("all_at_once", [np.concatenate([data.pool_x, data.target_x]), data.target_x])
    features = [embed(source, x) for x in (data.source_x, data.pool_x, data.target_x)]
    side = SideInfo(source_labels=data.source_y, positions=data.pool_angles)
    for method in args.selectors:
        start = time.perf_counter()
        selection_spec = SelectionSpec(method=method, fraction=1.0, chunks=args.steps)
        ids = np.arange(len(data.pool_x))
        table = select(*features, ids, selection_spec, seed, side).table
        scored = selection_report.with_truth(table, pd.Series(data.pool_angles))
        spearman[method] = round(selection_report.order_spearman(scored), 3)
        steps = chunk_path(Selection(table), args.steps, data.pool_x, data.target_x)
        gradual(f"gradual_{method}", steps, time.perf_counter() - start)
        if args.jitter and method != "oracle":  # jitter blurs a recovered order's errors
            jittered = selection_spec.model_copy(update={"jitter": args.jitter})
            for k in sorted({1, args.draws}):  # one path, then K side by side
                start = time.perf_counter()
                paths = jittered_paths(
                    source,
                    Selection(table),
                    jittered,
                    data.pool_x,
                    data.target_x,
                    k,
                    spec,
                    seed,
                    device=device,
                )
                members = [model for model, _ in paths]
                arm = f"gradual_{method}_jitter" + (f"_ensemble{k}" if k > 1 else "")
                accuracy[arm] = top1(Ensemble(members) if k > 1 else members[0], data)
                seconds[arm] = round(time.perf_counter() - start, 1)
                if k > 1:
                    draws[method] = [top1(m, data) for m in members]
    if args.progressive:
        start = time.perf_counter()
        model, _ = progressive_self_train(
            source, data.source_x, data.pool_x, data.target_x, args.steps, spec, seed, device=device
        )
        accuracy["progressive_discriminator"] = top1(model, data)
        seconds["progressive_discriminator"] = round(time.perf_counter() - start, 1)
    return {"accuracy": accuracy, "seconds": seconds, "spearman": spearman, "draws": draws}


def top1(model: torch.nn.Module, data: GradualImages, val: bool = False) -> float:
    x, y = (data.val_x, data.val_y) if val else (data.test_x, data.test_y)
    return float((predict_proba(model, x).argmax(1) == y).mean())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--full", action="store_true", help="Kumar et al.'s sizes/epochs, 5 seeds")
    parser.add_argument("--seeds", type=int, nargs="+")
    parser.add_argument("--pool", type=int, help="pool images (42,000 in the protocol)")
    parser.add_argument("--source-epochs", type=int)
    parser.add_argument("--step-epochs", type=int, help="epochs per gradual step")
    parser.add_argument("--steps", type=int, help="number of pool chunks")
    parser.add_argument("--selectors", nargs="+", default=list(SELECTORS))
    parser.add_argument(
        "--jitter",
        type=float,
        default=0.0,
        help="also cut each selector's order with this selection.jitter (noise std as a "
        "fraction of the order), as arm gradual_<selector>_jitter",
    )
    parser.add_argument(
        "--draws",
        type=int,
        default=1,
        help="with --jitter: also K jittered cuts per order walked side by side, the final "
        "models averaged (arm gradual_<selector>_jitter_ensemble<K>)",
    )
    parser.add_argument(
        "--neighbours",
        type=int,
        default=0,
        help="vote each pseudo-label over this many nearest rows (transit.gradual.neighbours)",
    )
    parser.add_argument("--no-progressive", dest="progressive", action="store_false")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    protocol = {**(FULL if args.full else REDUCED)}
    for key in protocol:
        if getattr(args, key, None) is not None:
            protocol[key] = getattr(args, key)
    args = argparse.Namespace(**{**vars(args), **protocol})
    torch.set_num_threads(1)
    device = resolve_device(args.device)
    start = time.perf_counter()
    runs = []
    for seed in args.seeds:
        data = rotating_mnist(spec=RotationSpec(pool=args.pool), seed=seed)
        runs.append(run_seed(data, args, seed, device))
        print(json.dumps({"seed": seed, **runs[-1]}), file=sys.stderr, flush=True)
    arms = runs[0]["accuracy"].keys()
    print(
        json.dumps(
            {
                "benchmark": "rotating_mnist",
                "protocol": "full" if args.full else "reduced",
                "settings": {
                    **protocol,
                    "jitter": args.jitter,
                    "draws": args.draws,
                    "neighbours": args.neighbours,
                },
                "target_accuracy": {
                    arm: {
                        **{
                            k: round(v, 4)
                            for k, v in summarise_seeds([r["accuracy"][arm] for r in runs]).items()
                        },
                        "per_seed": [round(r["accuracy"][arm], 4) for r in runs],
                    }
                    for arm in arms
                },
                "order_spearman_with_angle": {
                    m: [r["spearman"][m] for r in runs] for m in args.selectors
                },
                "draw_accuracy_per_seed": [r["draws"] for r in runs] if args.draws > 1 else None,
                "arm_seconds_seed0": runs[0]["seconds"],
                "published": PUBLISHED,
                "wall_s": round(time.perf_counter() - start, 1),
                "machine": {"cpus": os.cpu_count(), "device": str(device), "threads": 1},
            }
        )
    )


if __name__ == "__main__":
    main()
