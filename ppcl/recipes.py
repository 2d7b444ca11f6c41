"""Training recipes the notebooks share: one PPCL variant from a profile's ``ppcl`` table.

A variant is Algorithm 1 with given constraint weights and partial-input recipe (see
:mod:`ppcl.algorithm`): the Resize baseline (``partial_input="resize"``, no L), +R (``"rectify"``,
no L), PP-Cycle only, PP-Triplet only, PPCL. All start from the same seed, data, GLRec and
budget; each is checkpointed under its own name and picked at its best validation epoch.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from .algorithm import PPCLLossConfig, train_ppcl, validation_callback
from .data.common import Record
from .models import GLRec, build_ppcl
from .models.ppcl import PPCL
from .io import load_checkpoint
from .train import History, set_seed


def train_variant(
    name: str,
    cfg: dict,
    glrec_checkpoint: str | Path,
    train: Sequence[Record],
    val: dict,
    checkpoints: str | Path,
    lam_cyc: float,
    lam_tri: float,
    partial_input: str | None = "rectify",
    seed: int = 0,
    triplet_trains_F: bool = True,
    device: torch.device | None = None,
    progress: bool = True,
) -> tuple[PPCL, History]:
    """Train (or resume, or reload) variant ``name`` and return it at its best validation epoch."""
    set_seed(seed)
    backbone = {**cfg["backbone"], "num_classes": len({r.pid for r in train})}
    model = build_ppcl({}, backbone, cfg["crloc"], glrec_model=GLRec.from_checkpoint(glrec_checkpoint))
    if cfg.get("imagenet"):
        from .models.resnet import load_imagenet_weights

        load_imagenet_weights(model.backbone.trunk, backbone["depth"], cfg.get("weights"))
    loss_cfg = PPCLLossConfig(lam_cyc=lam_cyc, lam_tri=lam_tri, beta=cfg["beta"], alpha=cfg["alpha"],
                              label_smoothing=cfg["label_smoothing"], area=tuple(cfg["area"]), partial_input=partial_input,
                              triplet_trains_F=triplet_trains_F)
    checkpoints = Path(checkpoints)
    from .train import default_device

    device = device or default_device()
    method = "+R+L" if (lam_cyc or lam_tri) else ("+R" if partial_input == "rectify" else "resize")
    best = checkpoints / f"{name}_best.pt"
    history = train_ppcl(model, train, cfg["epochs"], checkpoints / f"{name}.pt", p=cfg["p"], k=cfg["k"], lr=cfg["lr"],
                         warmup_epochs=cfg["warmup_epochs"], loss_cfg=loss_cfg, seed=seed, erase=cfg["erase"],
                         device=device, on_epoch_end=validation_callback(model, val, method, best, device), progress=progress)
    if best.is_file():
        load_checkpoint(best, model)
    return model.to("cpu").eval(), history


def best_epoch(history: History) -> dict:
    """The first epoch row with the highest validation rank-1: the rule
    :func:`ppcl.algorithm.validation_callback` saves ``<name>_best.pt`` by, so this is the epoch
    whose weights :func:`train_variant` returns."""
    rows = [e for e in history.epochs if "val_rank1" in e]
    if not rows:
        raise ValueError("the history has no validation rows (was it trained with a validation callback?)")
    return max(rows, key=lambda e: (e["val_rank1"], -e["epoch"]))

