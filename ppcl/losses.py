"""The losses of Eq. 6: L_R (Eq. 1), L_F, PP-Cycle (Eq. 11) and PP-Triplet (Eq. 12)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def glrec_loss(t_pred: Tensor, gate_logit: Tensor, t_true: Tensor, is_partial: Tensor, gate_weight: float = 1.0) -> dict[str, Tensor]:
    """L_R of Eq. 1 (squared error of the 4 transform numbers, summed over them, averaged over
    the batch) plus the binary cross-entropy on the gate that the paper trains jointly."""
    l_r = ((t_pred - t_true) ** 2).sum(dim=1).mean()
    l_gate = F.binary_cross_entropy_with_logits(gate_logit, is_partial.to(gate_logit.dtype))
    return {"loss": l_r + gate_weight * l_gate, "L_R": l_r, "L_gate": l_gate}
