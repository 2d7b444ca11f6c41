"""One small training loop for every model of the kit (GLRec pretraining, PPCL, faces).

In the spirit of torchvision's ``references/classification``: a loop over epochs, a
checkpoint that is a plain dict written atomically each epoch, and ``resume`` that picks up
from the last one. The model-specific part is a ``step`` function that turns a batch into a
dict of loss terms (``"loss"`` is the one optimised); the loop logs every term so notebooks can
plot one curve per term. CUDA is used when present (with AMP), the CPU otherwise; under
``torchrun`` only rank 0 writes checkpoints and shows progress.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn
from tqdm.auto import tqdm

from .io import load_checkpoint, save_checkpoint


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU runs are then repeatable)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def is_main_process() -> bool:
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DistributedDataParallel wrapper (or the model itself)."""
    return getattr(model, "module", model)


@dataclass
class StepContext:
    """What a step function may use besides its batch."""

    epoch: int
    step: int
    device: torch.device
    generator: torch.Generator  # seeded from (seed, epoch): resumed runs draw the same crops


@dataclass
class History:
    """Per-step loss terms and per-epoch extras (e.g. validation metrics)."""

    steps: list[dict] = field(default_factory=list)
    epochs: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"steps": self.steps, "epochs": self.epochs}


def fit(
    model: nn.Module,
    step: Callable[[Any, StepContext], dict[str, Tensor]],
    loader: Iterable,
    optimizer: torch.optim.Optimizer,
    epochs: int,
    checkpoint: str | Path | None = None,
    scheduler: Any | None = None,
    device: torch.device | None = None,
    seed: int = 0,
    amp: bool = True,
    resume: bool = True,
    on_epoch_end: Callable[[int], dict] | None = None,
    desc: str = "train",
    progress: bool = True,
    channels_last: bool = True,
) -> History:
    """Train for ``epochs`` epochs, checkpointing each; resume from ``checkpoint`` if it exists.

    A checkpoint that already covers ``epochs`` makes this a no-op that returns its history,
    so a notebook re-run does not retrain. One saved for another architecture is refused.
    ``channels_last`` stores the convolutions' weights channels-last (measured about 1.3x faster
    on this project's CPUs for the ResNets; the numbers are the same up to float order).
    """
    device = device or default_device()
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    use_amp = amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    history, start = History(), 0
    ckpt_path = Path(checkpoint) if checkpoint else None
    if ckpt_path and resume and ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path, model)
        optimizer.load_state_dict(ckpt["optimizer"])
        if scheduler is not None and ckpt.get("scheduler") is not None:
            scheduler.load_state_dict(ckpt["scheduler"])
        if ckpt.get("scaler"):
            scaler.load_state_dict(ckpt["scaler"])
        history = History(**ckpt["history"])
        start = ckpt["epoch"] + 1
    global_step = len(history.steps)
    main = is_main_process()
    for epoch in range(start, epochs):
        model.train()
        # Every epoch starts from random state fixed by (seed, epoch), so a resumed run
        # shuffles, crops and erases exactly as an uninterrupted one would.
        epoch_seed = seed * 100_003 + epoch
        torch.manual_seed(epoch_seed)
        for s in (getattr(loader, "batch_sampler", None), getattr(loader, "sampler", None)):
            if hasattr(s, "set_epoch"):
                s.set_epoch(epoch)
            elif isinstance(getattr(s, "generator", None), torch.Generator):
                s.generator.manual_seed(epoch_seed)
        gen = torch.Generator().manual_seed(epoch_seed)
        bar = tqdm(loader, desc=f"{desc} {epoch + 1}/{epochs}", leave=False, disable=not (progress and main))
        for batch in bar:
            ctx = StepContext(epoch, global_step, device, gen)
            with torch.autocast(device_type=device.type, enabled=use_amp):
                terms = step(batch, ctx)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(terms["loss"]).backward()
            scaler.step(optimizer)
            scaler.update()
            row = {"epoch": epoch, "step": global_step, **{k: float(v.detach()) for k, v in terms.items()}}
            history.steps.append(row)
            bar.set_postfix(loss=f"{row['loss']:.3f}")
            global_step += 1
        if scheduler is not None:
            scheduler.step()
        extra = on_epoch_end(epoch) if on_epoch_end else {}
        ep_rows = [r for r in history.steps if r["epoch"] == epoch]
        means = {k: float(np.mean([r[k] for r in ep_rows])) for k in ep_rows[0] if k not in ("epoch", "step")} if ep_rows else {}
        history.epochs.append({"epoch": epoch, **means, **(extra or {})})
        if ckpt_path and main:
            save_checkpoint(
                {
                    "arch": unwrap(model).arch(),
                    "model": unwrap(model).state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict() if scheduler is not None else None,
                    "scaler": scaler.state_dict() if use_amp else None,
                    "epoch": epoch,
                    "history": history.as_dict(),
                },
                ckpt_path,
            )
    return history
