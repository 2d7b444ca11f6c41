"""GLRec's self-supervised pretraining (§3.1, §4.2): simulated crops with known t, Eq. 1 + BCE."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from .data.common import Record
from .data.datasets import ImageDataset
from .data.partial import SIDES, simulate_partial_batch
from .data.transforms import reid_train_transform
from .losses import glrec_loss
from .models.glrec import GLRec
from .train import History, StepContext, fit


def glrec_step(
    model: GLRec,
    partial_share: float = 0.5,
    area: tuple[float, float] = (0.3, 0.8),
    sides: tuple[str, ...] = SIDES,
    gate_weight: float = 1.0,
):
    """A ``step`` for :func:`ppcl.train.fit`: crop part of each holistic image, regress its t."""

    def step(batch, ctx: StepContext) -> dict[str, torch.Tensor]:
        x = batch[0].to(ctx.device)
        x_p, t, is_partial, _ = simulate_partial_batch(x, ctx.generator, partial_share, area, sides)
        t_pred, logit = model(x_p)
        return glrec_loss(t_pred, logit, t, is_partial, gate_weight)

    return step


def pretrain_glrec(
    model: GLRec,
    records: Sequence[Record],
    epochs: int,
    checkpoint: str | Path | None,
    batch_size: int = 64,
    lr: float = 3e-4,
    weight_decay: float = 5e-4,
    partial_share: float = 0.5,
    area: tuple[float, float] = (0.3, 0.8),
    sides: tuple[str, ...] = SIDES,
    seed: int = 0,
    num_workers: int = 0,
    device: torch.device | None = None,
    preload: bool = True,
    progress: bool = True,
) -> History:
    """Train R on holistic ``records`` (Adam, cosine schedule), checkpointing each epoch."""
    ds = ImageDataset(records, reid_train_transform(model.cfg.input_size, pad=0, erase=0), preload=preload)
    g = torch.Generator().manual_seed(seed)
    loader = DataLoader(ds, batch_size=batch_size, shuffle=True, drop_last=True, generator=g, num_workers=num_workers)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1))
    step = glrec_step(model, partial_share, area, sides)
    return fit(model, step, loader, opt, epochs, checkpoint, sched, device, seed=seed, desc="GLRec", progress=progress)
