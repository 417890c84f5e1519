"""DDTL's selective learning (Tan et al., AAAI 2017): an autoencoder over source, pool and
target rows with a per-row selection indicator, trained by block coordinate descent.

Each round (1) updates the indicators in closed form, v_i = [loss_i < threshold], where
loss_i is the row's reconstruction loss plus its classification loss when labelled or its
prediction entropy when not, and (2) trains the network on the target plus the rows with
v_i = 1. The threshold is annealed upward (a rising quantile of the current losses), so
more rows enter each round. Target rows are always in. Pool rows that enter early fit the
target-anchored network best: they are the most target-like, so they get the highest score.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from components.selection.base import Domains, Selection, SelectionSpec, SideInfo, from_scores


def indicator_update(losses: np.ndarray, threshold: float) -> np.ndarray:
    """DDTL's closed-form indicator step: keep a row iff its loss is under the threshold."""
    return losses < threshold


def annealed_threshold(losses: np.ndarray, round_: int, rounds: int) -> float:
    """Round r's threshold: the (r+1)/rounds quantile of the candidates' losses, so the kept
    share rises from 1/rounds to all rows (the last round keeps everything)."""
    if round_ == rounds - 1:
        return float(np.inf)
    return float(np.quantile(losses, (round_ + 1) / rounds))


class SelectiveAutoencoder(nn.Module):
    """Encoder, decoder, and a classifier on the code (when any labels exist)."""

    def __init__(self, width: int, hidden: int, n_classes: int):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, hidden))
        self.decoder = nn.Sequential(
            nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, width)
        )
        self.head = nn.Linear(hidden, max(n_classes, 1))

    def losses(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-row reconstruction + (cross-entropy if y >= 0 else prediction entropy)."""
        code = self.encoder(x)
        recon = ((self.decoder(code) - x) ** 2).mean(1)
        if self.head.out_features == 1:
            return recon
        log_p = torch.log_softmax(self.head(code), dim=1)
        entropy = -(log_p.exp() * log_p).sum(1)
        ce = -log_p.gather(1, y.clamp(min=0)[:, None]).squeeze(1)
        return recon + torch.where(y >= 0, ce, entropy)


def _labels(values: np.ndarray | None, n: int) -> np.ndarray:
    return np.full(n, -1, dtype=np.int64) if values is None else np.asarray(values, dtype=np.int64)


def _train(net: SelectiveAutoencoder, x, y, keep: torch.Tensor, epochs: int, gen) -> None:
    """A few epochs of Adam on the kept rows, in mini-batches."""
    rows = torch.nonzero(keep).squeeze(1)
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)
    net.train()
    for _ in range(epochs):
        for batch in rows[torch.randperm(len(rows), generator=gen)].split(256):
            optimiser.zero_grad(set_to_none=True)
            net.losses(x[batch], y[batch]).mean().backward()
            optimiser.step()


@torch.no_grad()
def _all_losses(net: SelectiveAutoencoder, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    net.eval()
    return torch.cat([net.losses(a, b) for a, b in zip(x.split(4096), y.split(4096))]).numpy()


def selective_learning(
    source: np.ndarray,
    pool: np.ndarray,
    target: np.ndarray,
    spec: SelectionSpec,
    seed: int,
    side: SideInfo,
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Run the block coordinate descent; return each pool row's entry round, its loss at that
    round, and the number of kept source + pool rows per round (non-decreasing)."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    parts = [x.reshape(len(x), -1) for x in (target, source, pool)]
    flat = np.concatenate(parts).astype(np.float32)
    flat = (flat - flat.mean(0)) / (flat.std(0) + 1e-6)
    labels = np.concatenate(
        [
            _labels(side.target_labels, len(target)),
            _labels(side.source_labels, len(source)),
            _labels(side.pool_labels, len(pool)),
        ]
    )
    x, y = torch.from_numpy(flat), torch.from_numpy(labels)
    net = SelectiveAutoencoder(flat.shape[1], spec.ddtl_hidden, int(labels.max()) + 1)
    is_target = torch.arange(len(flat)) < len(target)
    _train(net, x, y, is_target, spec.ddtl_epochs, gen)  # round 0 starts from the target alone
    pool_from = len(target) + len(source)
    entry = np.full(len(pool), spec.ddtl_steps, dtype=np.int64)
    entry_loss = np.zeros(len(pool))
    kept_counts = []
    for round_ in range(spec.ddtl_steps):
        losses = _all_losses(net, x, y)[len(target) :]
        v = indicator_update(losses, annealed_threshold(losses, round_, spec.ddtl_steps))
        kept_counts.append(int(v.sum()))
        v_pool = v[pool_from - len(target) :]
        new = v_pool & (entry == spec.ddtl_steps)
        entry[new], entry_loss[new] = round_, losses[pool_from - len(target) :][new]
        keep = is_target | torch.from_numpy(np.concatenate([np.zeros(len(target), bool), v]))
        _train(net, x, y, keep, spec.ddtl_epochs, gen)
    return entry, entry_loss, kept_counts


def ddtl(domains: Domains, spec: SelectionSpec, seed: int) -> Selection:
    """Score = rounds before the row entered, refined by its loss at entry (earlier and lower
    = more target-like); keep the top `fraction`."""
    d = domains
    entry, entry_loss, _ = selective_learning(d.source, d.pool, d.target, spec, seed, d.side)
    rank = np.argsort(np.argsort(entry_loss)) / max(len(d.pool) - 1, 1)
    return from_scores(d.pool_ids, (spec.ddtl_steps - entry) - rank, spec)
