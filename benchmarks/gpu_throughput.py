"""GPU throughput benchmark: samples/s of source pretraining (MNIST) and L2-SP adaptation
(Rotating MNIST: the same digits turned 90 degrees), GPU utilisation, and the pipeline's
step time (components.models.loop.fit) over a bare PyTorch loop of the same LeNet-style
CNN on the same data (target: ratio <= 1.10 on a GPU). Prints one JSON line.

    uv run python benchmarks/gpu_throughput.py [--seeds 0 1 2] [--rows 60000] [--epochs 2]

It runs anywhere: on a machine without CUDA it reports device=cpu, and the 10% target is
only checked on a GPU. Reads MNIST from $STEPSTONE_DATA_ROOT/mnist (default ../shared/data).
"""

from __future__ import annotations

import argparse
import json
import threading
import time

import numpy as np
import torch
from torch import nn

from components.adaptation import AdaptSpec, adapt
from components.data.images import data_root, load_mnist
from components.evaluation import summarise_seeds
from components.models.lenet import LeNet
from components.models.loop import fit
from components.models.rows import Labelled
from components.models.spec import TrainSpec
from components.models.training import autocast, resolve_device, seed_everything, to_tensors


def mnist(rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `rows` MNIST training images as float32 [n, 1, 28, 28] in [0, 1], and labels."""
    images, labels = load_mnist(data_root(), "train")
    return (images[:rows, None] / 255.0).astype(np.float32), labels[:rows]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def bare_loop(model: nn.Module, data: Labelled, spec: TrainSpec, seed: int, device) -> None:
    """The same training as `fit`, written as the plainest PyTorch loop."""
    generator = seed_everything(seed)
    model.to(device).train()
    (x,) = to_tensors(data.x, device)
    y = torch.from_numpy(data.y).to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=spec.lr, weight_decay=spec.weight_decay)
    for _ in range(spec.epochs):
        order = torch.randperm(len(y), generator=generator).to(device)
        for start in range(0, len(y), spec.batch_size):
            idx = order[start : start + spec.batch_size]
            with autocast(device):
                logits = model(x[idx])
            loss = nn.functional.cross_entropy(logits.float(), y[idx])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
    sync(device)


class GpuSampler:
    """Mean GPU utilisation (%) while the block runs, via NVML; None without a GPU or pynvml."""

    def __init__(self, device: torch.device):
        self.samples: list[int] = []
        self.handle = None
        if device.type == "cuda":
            try:
                import pynvml

                pynvml.nvmlInit()
                self.handle = pynvml.nvmlDeviceGetHandleByIndex(device.index or 0)
                self.read = lambda: pynvml.nvmlDeviceGetUtilizationRates(self.handle).gpu
            except Exception:  # noqa: BLE001 - no NVML: report None
                self.handle = None
        self.stop = threading.Event()

    def __enter__(self):
        if self.handle is not None:
            self.thread = threading.Thread(target=self._run, daemon=True)
            self.thread.start()
        return self

    def _run(self) -> None:
        while not self.stop.wait(0.2):
            self.samples.append(self.read())

    def __exit__(self, *exc) -> None:
        self.stop.set()

    @property
    def mean(self) -> float | None:
        return float(np.mean(self.samples)) if self.samples else None


def timed(fn, device) -> float:
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def one_seed(seed: int, x: np.ndarray, y: np.ndarray, args, device) -> dict:
    """Throughputs and the overhead ratio for one seed."""
    spec = TrainSpec(epochs=args.epochs, batch_size=args.batch_size, lr=1e-3)
    source = Labelled.of(x, y)
    n_target = max(len(x) // 10, args.batch_size)
    target = Labelled.of(np.rot90(x[:n_target], k=1, axes=(2, 3)).copy(), y[:n_target])
    seed_everything(seed)
    bare = LeNet(10)
    bare_s = timed(lambda: bare_loop(bare, source, spec, seed, device), device)
    seed_everything(seed)
    model = LeNet(10)
    with GpuSampler(device) as gpu:
        pipeline_s = timed(lambda: fit(model, source, spec, seed=seed, device=device), device)
    adapt_spec = AdaptSpec(method="l2sp", train=spec)
    adapt_s = timed(
        lambda: adapt(model, target, None, adapt_spec, seed=seed, device=device), device
    )
    return {
        "pretrain_samples_per_s": len(x) * spec.epochs / pipeline_s,
        "bare_samples_per_s": len(x) * spec.epochs / bare_s,
        "adapt_samples_per_s": n_target * spec.epochs / adapt_s,
        "pipeline_over_bare": pipeline_s / bare_s,
        "gpu_util_percent": gpu.mean,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rows", type=int, default=60000, help="MNIST training rows used")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    args = parser.parse_args()
    torch.set_num_threads(1)
    device = resolve_device(args.device)
    start = time.perf_counter()
    x, y = mnist(args.rows)
    one_seed(args.seeds[0], x[: args.batch_size * 2], y[: args.batch_size * 2], args, device)
    runs = [one_seed(s, x, y, args, device) for s in args.seeds]  # after a warm-up above
    summary = {
        key: summarise_seeds([r[key] for r in runs]) for key in runs[0] if runs[0][key] is not None
    }
    ratio = summary["pipeline_over_bare"]["mean"]
    print(
        json.dumps(
            {
                "benchmark": "gpu_throughput",
                "device": device.type,
                "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
                "rows": len(x),
                "epochs": args.epochs,
                "batch_size": args.batch_size,
                "seeds": args.seeds,
                **summary,
                "gpu_util_percent": summary.get("gpu_util_percent"),
                "target_overhead_within_10pct": (ratio <= 1.10) if device.type == "cuda" else None,
                "wall_s": time.perf_counter() - start,
            }
        )
    )


if __name__ == "__main__":
    main()
