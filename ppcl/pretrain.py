"""GLRec's self-supervised pretraining (§3.1, §4.2): simulated crops with known t, Eq. 1 + BCE."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from .data.common import Record
from .data.datasets import ImageStore, RandomBatches, TrainBatches
from .data.partial import SIDES, simulate_partial_batch
from .data.transforms import Augmentation
from .losses import glrec_loss
from .models.glrec import GLRec
from .train import History, StepContext, adam, default_device, fit


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
    progress: bool = True,
) -> History:
    """Train R on holistic ``records`` (Adam, cosine schedule), checkpointing each epoch.

    The images are decoded once at R's input size (:class:`ppcl.data.datasets.ImageStore`, on the
    training device when they fit; not at all when the checkpoint is complete; kept as their files'
    bytes and decoded per batch when decoded they would exceed a share of the host's available
    memory: :class:`ppcl.data.stores.EncodedStore`) and each shuffled
    batch is flipped at random there; the crops of :func:`ppcl.data.partial.simulate_partial_batch`
    run on the device too. ``num_workers`` batches are prepared ahead in a background thread (0:
    each when it is needed)."""
    device = torch.device(device) if device is not None else default_device()

    def store() -> ImageStore:
        return ImageStore.from_records(records, model.cfg.input_size, device, progress=progress)

    batches = TrainBatches(store, RandomBatches(len(records), batch_size, seed), Augmentation(pad=0, erase=0.0), device,
                           seed=seed, prefetch=num_workers)
    opt = adam(model.parameters(), lr, weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1))
    step = glrec_step(model, partial_share, area, sides)
    return fit(model, step, batches, opt, epochs, checkpoint, sched, device, seed=seed, desc="GLRec", progress=progress)
