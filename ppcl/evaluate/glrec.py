"""How well GLRec places partial images: gate accuracy and layout IoU, by crop side and area."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from ..data.common import Record
from ..data.datasets import ImageDataset
from ..data.partial import SIDES, area_ratio, simulate_partial_batch
from ..data.transforms import reid_test_transform
from ..geometry import box_iou, t_to_box
from ..models.glrec import GLRec


@torch.no_grad()
def predict_layouts(model: GLRec, x_p: Tensor, batch_size: int = 256, device: torch.device | str | None = None
                    ) -> tuple[Tensor, Tensor]:
    """R over partial inputs ``(N, 3, H, W)`` on ``device`` (default: the model's), in batches: clamped
    t ``(N, 4)`` and gate score eta ``(N,)``, on the CPU. The model is returned where it was."""
    home = model.threshold.device
    dev = torch.device(device) if device is not None else home
    model.eval().to(dev)
    ts, etas = [], []
    for i in range(0, len(x_p), batch_size):
        t, logit = model(x_p[i : i + batch_size].to(dev))
        ts.append(model.clamp_t(t).cpu())
        etas.append(torch.sigmoid(logit).cpu())
    model.to(home)
    return torch.cat(ts), torch.cat(etas)


def simulated_crops(
    records: Sequence[Record],
    size: tuple[int, int],
    seed: int = 1,
    partial_share: float = 0.5,
    area: tuple[float, float] = (0.3, 0.8),
    sides: tuple[str, ...] = SIDES,
) -> dict:
    """A fixed held-out set: each holistic image cropped (or not) with a seeded draw."""
    ds = ImageDataset(records, reid_test_transform(size))
    x = torch.stack([ds[i][0] for i in range(len(ds))])
    x_p, t, is_p, side = simulate_partial_batch(x, torch.Generator().manual_seed(seed), partial_share, area, sides)
    return {"x": x, "x_p": x_p, "t": t, "is_partial": is_p, "side": side}


def glrec_metrics(t_pred: Tensor, eta: Tensor, t_true: Tensor, is_partial: Tensor, sides: Sequence[str], threshold: float = 0.5, area_bins: Sequence[float] = (0.0, 0.4, 0.6, 0.8, 1.0)) -> dict:
    """Gate accuracy (all images) and mean IoU of predicted vs true layout boxes (partial ones).

    Returns overall numbers plus rows broken down by side and by visible-area bin.
    """
    pred_partial = eta >= threshold
    correct = (pred_partial == is_partial.bool()).float()
    iou = box_iou(t_to_box(t_pred), t_to_box(t_true))
    part = is_partial.bool()
    out = {
        "gate_accuracy": float(correct.mean()),
        "gate_accuracy_partial": float(correct[part].mean()) if part.any() else float("nan"),
        "gate_accuracy_holistic": float(correct[~part].mean()) if (~part).any() else float("nan"),
        "mean_iou": float(iou[part].mean()) if part.any() else float("nan"),
        "n": len(eta),
    }
    sides_arr = np.array(sides)
    by_side = []
    for s in sorted(set(sides)):
        m = torch.from_numpy(sides_arr == s)
        by_side.append({"side": s, "n": int(m.sum()), "gate_accuracy": float(correct[m].mean()),
                        "mean_iou": float(iou[m].mean()) if s != "whole" else float("nan")})
    ratios = area_ratio(t_true)
    by_area = []
    for lo, hi in zip(area_bins[:-1], area_bins[1:]):
        m = part & (ratios >= lo) & (ratios < hi)
        if m.any():
            by_area.append({"area": f"[{lo:.1f}, {hi:.1f})", "n": int(m.sum()),
                            "gate_accuracy": float(correct[m].mean()), "mean_iou": float(iou[m].mean())})
    out["by_side"], out["by_area"] = by_side, by_area
    return out


def metrics_on_test_set(model: GLRec, partial: Sequence[Record], holistic: Sequence[Record], truth: dict[str, dict] | None,
                        device: torch.device | str | None = None) -> dict:
    """GLRec on a partial re-ID test set: gate accuracy over its partial and holistic images,
    and, where the true t is known (the kit's synthetic sets), layout IoU on the partial ones."""
    from .engine import load_images

    size = tuple(model.cfg.input_size)
    x = torch.cat([load_images(partial, size), load_images(holistic, size)])
    t_pred, eta = predict_layouts(model, x, device=device)
    is_p = torch.cat([torch.ones(len(partial)), torch.zeros(len(holistic))])
    if truth is not None:
        t_true = torch.tensor([truth[r.path]["t"] for r in partial] + [[1.0, 1.0, 0.0, 0.0]] * len(holistic))
        sides = [truth[r.path]["side"] for r in partial] + ["whole"] * len(holistic)
        out = glrec_metrics(t_pred, eta, t_true, is_p, sides, threshold=float(model.threshold))
    else:
        correct = ((eta >= float(model.threshold)).float() == is_p).float()  # G at its own threshold
        out = {"gate_accuracy": float(correct.mean()), "gate_accuracy_partial": float(correct[: len(partial)].mean()),
               "gate_accuracy_holistic": float(correct[len(partial):].mean()), "mean_iou": float("nan"), "n": len(x)}
    out["t_pred"], out["eta"] = t_pred, eta
    return out


def summary_table(m: dict):
    """GLRec's held-out numbers (from :func:`glrec_metrics`) beside the paper's (gate accuracy
    94.3% on simulated partial Market-1501; the paper gives no layout IoU)."""
    import pandas as pd

    from .. import paper

    return pd.DataFrame([
        {"metric": "gate accuracy (%)", "kit": 100 * m["gate_accuracy"], "paper": paper.GATE_ACCURACY},
        {"metric": "gate accuracy, partial inputs (%)", "kit": 100 * m["gate_accuracy_partial"], "paper": None},
        {"metric": "gate accuracy, holistic inputs (%)", "kit": 100 * m["gate_accuracy_holistic"], "paper": None},
        {"metric": "mean layout IoU (partial)", "kit": m["mean_iou"], "paper": None},
    ]).round(3)


def worst_placed(t_pred: Tensor, t_true: Tensor, is_partial: Tensor, n: int) -> Tensor:
    """Indices of the ``n`` partial crops whose predicted layout has the lowest IoU with the truth."""
    iou = box_iou(t_to_box(t_pred), t_to_box(t_true))
    iou[~is_partial.bool()] = float("inf")
    return iou.argsort()[:n]
