"""Fit candidates side by side on the process's cores.

A LightGBM fit on ~40k rows uses two cores poorly (0.67 s on two threads against 0.81 s on
one, on the loan table), and a small torch network hardly better, so two fits on one thread
each get more done than one fit on two. LightGBM and scikit-learn release the GIL while they
fit, so threads suffice. Fits that train a torch network draw on torch's global random state
(dropout, data order), so those run one after another in one lane, in order; every candidate
marked `parallel` (its fit uses no global random state) runs in whichever lane is free. The
results are the same as one fit at a time: each fit sees only its own seed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import torch

from components.candidates.base import Blend, Candidate

LANES = 2  # more lanes than this split a small machine's threads too thin


def lanes_for(threads: int) -> int:
    """How many fits run at once with `threads` threads: LANES, or one per thread if fewer."""
    return max(1, min(LANES, threads))


def run_in_lanes(
    candidates: Sequence[Candidate | Blend],
    work: Callable[[Candidate | Blend], None],
    lanes: int | None = None,
) -> None:
    """`work(candidate)` for every candidate, in `lanes` threads (default lanes_for the
    process's torch threads), the process's threads split evenly between them while they run
    (LightGBM takes its thread count from torch's); then, in the caller's thread, for every
    Blend, in order (its members are fitted by then). The candidates not marked `parallel` run
    in one lane, in order. `work` must record its own errors; one that raises stops the rest."""
    fits = [c for c in candidates if isinstance(c, Candidate)]
    serial = [c for c in fits if not c.parallel]
    jobs = [serial] * bool(serial) + [[c] for c in fits if c.parallel]
    threads = torch.get_num_threads()
    lanes = lanes_for(threads) if lanes is None else lanes
    if lanes <= 1 or len(jobs) <= 1:
        for candidate in fits:
            work(candidate)
    else:
        in_lanes(jobs, work, lanes, threads)
    for blend in (c for c in candidates if isinstance(c, Blend)):
        work(blend)


def in_lanes(jobs: list[list[Candidate]], work, lanes: int, threads: int) -> None:
    """Each job's candidates in turn, the jobs on `lanes` threads of threads // lanes each."""
    torch.set_num_threads(max(1, threads // lanes))
    try:
        with ThreadPoolExecutor(lanes, thread_name_prefix="stepstone-fit") as pool:
            running = [pool.submit(lambda job=job: [work(c) for c in job]) for job in jobs]
            for done in running:
                done.result()
    finally:
        torch.set_num_threads(threads)
