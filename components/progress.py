"""Progress of long loops (epochs, steps, gradual steps), shown where the user is looking.

`Progress(total, desc, unit)` is told the position and the running metrics after each unit of
work. When stderr is a terminal it draws a tqdm bar (`leave=False`: it disappears when done);
otherwise (CI logs, files) it logs plain lines through the `stepstone.progress` logger at INFO,
e.g. `pretrain epoch 3/8 loss 0.4123`: every epoch or gradual step, and for step-based training
a line every ~10% of the steps. `set_quiet(True)` or the environment variable
`STEPSTONE_QUIET=1` silences both. `to_console()` sends that logger to stderr for applications
whose logging setup (Prefect's root logger at WARNING) would drop INFO lines.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
from collections.abc import Iterator

from tqdm import tqdm

logger = logging.getLogger("stepstone.progress")
_quiet: bool | None = None  # None: follow STEPSTONE_QUIET
_console: logging.Handler | None = None


def set_quiet(quiet: bool | None = True) -> None:
    """Silence (True) or show (False) progress in this process; None follows STEPSTONE_QUIET."""
    global _quiet
    _quiet = quiet


@contextlib.contextmanager
def silenced() -> Iterator[None]:
    """No progress inside the block (e.g. the many small fits of a cross-validation, which
    report per candidate instead); the previous setting afterwards."""
    global _quiet
    before, _quiet = _quiet, True
    try:
        yield
    finally:
        _quiet = before


def is_quiet() -> bool:
    if _quiet is not None:
        return _quiet
    return os.environ.get("STEPSTONE_QUIET", "").strip().lower() in {"1", "true", "yes", "on"}


def to_console() -> None:
    """Log progress lines to stderr (once), not through the root logger's handlers."""
    global _console
    if _console is None:
        _console = logging.StreamHandler(sys.stderr)
        _console.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(_console)
    logger.setLevel(logging.INFO)
    logger.propagate = False


class Progress:
    """Progress through `total` units (`unit`: "epoch", "step", ...) of the work `desc`,
    logging at most `lines` lines when not on a terminal (0: one per unit)."""

    def __init__(self, total: int, desc: str, unit: str = "epoch", lines: int = 0):
        self.total, self.desc, self.unit = max(1, total), desc, unit
        self.every = math.ceil(self.total / lines) if lines else 1
        self.bar = None
        self.quiet = is_quiet()
        if not self.quiet and sys.stderr.isatty():
            self.bar = tqdm(total=self.total, desc=desc, unit=unit, leave=False)

    def update(self, done: int, **metrics: float) -> None:
        """`done` units finished so far, with the running metrics (e.g. `loss=0.41`)."""
        if self.quiet or (self.bar is None and done % self.every and done != self.total):
            return
        shown = {k: str(v) if isinstance(v, int) else f"{v:.4f}" for k, v in metrics.items()}
        if self.bar is not None:
            self.bar.set_postfix(shown, refresh=False)
            self.bar.update(done - self.bar.n)
        else:
            text = "".join(f" {k} {v}" for k, v in shown.items())
            logger.info("%s %s %d/%d%s", self.desc, self.unit, done, self.total, text)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
