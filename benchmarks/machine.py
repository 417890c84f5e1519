"""Not a benchmark: what every benchmark records about the machine it ran on. Training on
a CPU is exact for one machine, but another CPU (another torch kernel, e.g. AVX2 against
AVX-512) rounds differently, so the networks and every number built on them differ a
little between machines; the record says which one a number came from."""

from __future__ import annotations

import os
from pathlib import Path


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def machine() -> dict:
    import torch

    return {
        "cpus": os.cpu_count(),
        "cpu": cpu_model(),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch_threads": torch.get_num_threads(),
    }
