"""The losses of Eq. 6: L_R (Eq. 1), L_F, PP-Cycle (Eq. 11) and PP-Triplet (Eq. 12)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .geometry import box_containment, box_iou, map_points, t_to_box


def glrec_loss(t_pred: Tensor, gate_logit: Tensor, t_true: Tensor, is_partial: Tensor, gate_weight: float = 1.0) -> dict[str, Tensor]:
    """L_R of Eq. 1 (squared error of the 4 transform numbers, summed over them, averaged over
    the batch) plus the binary cross-entropy on the gate that the paper trains jointly."""
    l_r = ((t_pred - t_true) ** 2).sum(dim=1).mean()
    l_gate = F.binary_cross_entropy_with_logits(gate_logit, is_partial.to(gate_logit.dtype))
    return {"loss": l_r + gate_weight * l_gate, "L_R": l_r, "L_gate": l_gate}


def cross_entropy(logits: Tensor, labels: Tensor, smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy of L_F, with optional label smoothing (a "PPCL+" trick)."""
    return F.cross_entropy(logits, labels, label_smoothing=smoothing)


def batch_hard_triplet(feats: Tensor, labels: Tensor, margin: float = 0.3) -> Tensor:
    """Batch-hard triplet loss (Hermans et al., 2017) of L_F on Euclidean distances.

    For each anchor: its farthest positive and nearest negative in the batch. Anchors
    without a positive or a negative in the batch are left out of the mean (by a mask: nothing
    here waits for the device).
    """
    f = feats if feats.dtype == torch.float64 else feats.float()
    d = torch.cdist(f, f).clamp_min(1e-12)
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=feats.device)
    pos_mask, neg_mask = same & ~eye, ~same
    valid = (pos_mask.any(1) & neg_mask.any(1)).to(d.dtype)
    hardest_pos = d.masked_fill(~pos_mask, 0.0).amax(1)  # distances are positive: 0 never wins where a positive exists
    hardest_neg = d.masked_fill(~neg_mask, float("inf")).amin(1)
    per = F.relu(hardest_pos - hardest_neg.masked_fill(valid == 0, 0.0) + margin)
    return (per * valid).sum() / valid.sum().clamp_min(1.0)


def grid_loss(t_pred: Tensor, t_target: Tensor, points: Tensor) -> Tensor:
    """Rocco et al.'s transformed-grid loss: mean squared distance between the points of a
    fixed grid mapped by the predicted and by the target transform (both in t form)."""
    return ((map_points(t_pred, points) - map_points(t_target, points)) ** 2).sum(-1).mean()


def pp_cycle(t_back: Tensor, t_source: Tensor, points: Tensor) -> Tensor:
    """PP-Cycle, Eq. 11: the region reached by x^r -> y -> x should be where x^p came from.

    ``t_back`` is CRLoc's box in x for the region it found in y; ``t_source`` is the true
    region of x the partial crop was cut from. Zero exactly when they coincide.
    """
    return grid_loss(t_back, t_source, points)


def pp_triplet(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 0.3, valid: Tensor | None = None) -> Tensor:
    """PP-Triplet, Eq. 12: hinge on squared distances of (unit-norm) region descriptors:
    ``[ |a - p|^2 - |a - n|^2 + margin ]_+`` averaged over the batch (over ``valid`` rows only,
    when given: those whose negative could be sampled)."""
    a, p, n = (F.normalize(v if v.dtype == torch.float64 else v.float(), dim=-1) for v in (anchor, positive, negative))
    per = F.relu(((a - p) ** 2).sum(-1) - ((a - n) ** 2).sum(-1) + margin)
    if valid is None:
        return per.mean()
    valid = valid.to(per.dtype)
    return (per * valid).sum() / valid.sum().clamp_min(1)


NEGATIVE_TRIES = 64  # candidate boxes drawn for each PP-Triplet negative


def negative_uniforms(n: int, generator: torch.Generator, tries: int = NEGATIVE_TRIES) -> Tensor:
    """The uniforms :func:`sample_negative_boxes` draws its candidates from: ``(tries, n, 4)`` on the CPU."""
    return torch.rand(tries, n, 4, generator=generator)


def sample_negative_boxes(
    positive: Tensor,
    draws: torch.Generator | Tensor,
    beta: float = 0.5,
    min_scale: float = 0.1,
    tries: int = NEGATIVE_TRIES,
    same_size: bool = False,
) -> tuple[Tensor, Tensor]:
    """Negative regions for PP-Triplet (§3.3), one per positive box ``(N, 4)`` in t form.

    ``tries`` candidates per positive (scales log-uniform in [min_scale, 1], or with ``same_size``
    within a factor 1.25 of the positive's own for the first half of them, centres uniform inside
    the map); each positive keeps its first candidate for which both rules hold: IoU with the
    positive < beta, and intersection over the smaller box < beta (so neither box mostly contains
    the other). All candidates at once, on the positive's device, from ``draws``: uniforms
    ``(tries, N, 4)`` (:func:`negative_uniforms`) or a generator to draw them from. Nothing waits
    for the device: no loop, no count, no boolean indexing. A positive that covers nearly the whole
    map admits no such box; those rows come back as the positive itself with ``valid = False`` and
    PP-Triplet skips them. ``same_size`` keeps the size of a region from telling the negative
    apart (a small negative is otherwise easy to push away from a large positive).

    Promise (tests/test_invariants_boxes.py): every negative lies inside the map with scales in
    ``[min_scale, 1]``; where ``valid``, its IoU and its containment with the positive are both
    below ``beta``; a positive covering the whole map is never valid. The same draws give the same
    negatives.

    Returns ``(negatives (N, 4), valid (N,) bool)``.
    """
    pos = positive.detach().float()
    n = pos.shape[0]
    u = negative_uniforms(n, draws, tries) if isinstance(draws, torch.Generator) else draws
    if u.ndim != 3 or u.shape[1:] != (n, 4):
        raise ValueError(f"draws: expected uniforms (tries, {n}, 4); found {tuple(u.shape)}")
    u = u.to(pos.device, torch.float32)
    s = min_scale ** (1 - u[..., :2])  # log-uniform in [min_scale, 1]: small boxes fit beside big positives
    if same_size:
        near = (pos[:, :2] * 1.25 ** (2 * u[..., :2] - 1)).clamp(min_scale, 1.0)
        first_half = (torch.arange(u.shape[0], device=u.device) < u.shape[0] // 2)[:, None, None]
        s = torch.where(first_half, near, s)
    cand = torch.cat([s, (2 * u[..., 2:] - 1) * (1 - s)], dim=-1)  # (T, N, 4)
    cb, pb = t_to_box(cand), t_to_box(pos)[None]
    ok = (box_iou(cb, pb) < beta) & (box_containment(cb, pb) < beta)  # (T, N)
    first = ok.to(torch.uint8).argmax(dim=0)  # the first valid candidate (0 where none is)
    neg = cand.gather(0, first.view(1, n, 1).expand(1, n, 4))[0]
    valid = ok.any(dim=0)
    return torch.where(valid[:, None], neg, pos), valid
