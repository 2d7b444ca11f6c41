"""Face verification (§5): the ROC of pair distances, its AUC and TAR at a fixed FAR.

A pair is *accepted* (declared the same person) when its distance is at or below a threshold;
Euclidean distance between descriptors in the paper, but any "smaller = more similar" distance
works. Sweeping the threshold gives the ROC: the false-accept rate FAR (impostor pairs
accepted / impostor pairs) against the true-accept rate TAR (genuine pairs accepted / genuine
pairs). The curve is scikit-learn's :func:`sklearn.metrics.roc_curve` on the score
``-distance``, with every threshold kept (``drop_intermediate=False``), so

* tied distances enter together: one threshold admits every pair at that distance, and the
  curve jumps diagonally over a tie between genuine and impostor pairs (no point splits it);
* the first point is ``(FAR, TAR) = (0, 0)`` at threshold ``-inf`` (nothing accepted).

**TAR at FAR f** is read at a point of the curve, never interpolated: the best TAR among the
points whose FAR does not exceed f (the curve is monotone, so that is the point with the largest
FAR <= f). The *nearest* point may lie above f and would overstate TAR; it is never used.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import auc as _auc
from sklearn.metrics import roc_curve
from torch import Tensor

ArrayLike = Tensor | np.ndarray | Sequence[float]
DEFAULT_FARS: tuple[float, ...] = (1e-3, 1e-2)


@dataclass(frozen=True)
class VerificationResult:
    """The ROC of a set of pairs. ``far``, ``tar``, ``thresholds``: ``(P,)``, one point per
    distinct distance plus the starting point ``(0, 0)`` at threshold ``-inf``; point ``i``
    accepts the pairs with ``distance <= thresholds[i]``."""

    far: np.ndarray
    tar: np.ndarray
    thresholds: np.ndarray
    auc: float
    tar_at: dict[float, float] = field(default_factory=dict)  # {FAR target: TAR}
    num_genuine: int = 0
    num_impostor: int = 0

    def tar_at_far(self, target: float) -> float:
        """TAR at any FAR target (see :func:`tar_at_far`)."""
        return tar_at_far(self.far, self.tar, target)


def _as_numpy(x: ArrayLike, name: str) -> np.ndarray:
    a = x.detach().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one entry per pair); got shape {a.shape}")
    return a


def _check_labels(same: np.ndarray) -> np.ndarray:
    if same.dtype == bool:
        return same
    if np.issubdtype(same.dtype, np.integer) and np.isin(same, (0, 1)).all():
        return same.astype(bool)
    values = np.unique(same)[:5]
    raise ValueError(f"same_identity must be booleans (or 0/1); got dtype {same.dtype} with values {values.tolist()}")


def verification(distances: ArrayLike, same_identity: ArrayLike, fars: Sequence[float] = DEFAULT_FARS) -> VerificationResult:
    """The ROC of pair ``distances`` ``(P,)`` (smaller = more similar) against the ground truth
    ``same_identity`` ``(P,)`` (True for a genuine pair), with TAR at each FAR of ``fars``.

    Refuses empty input, unequal lengths, non-finite distances and input of one class only
    (a ROC needs genuine and impostor pairs both).
    """
    d = _as_numpy(distances, "distances")
    same = _as_numpy(same_identity, "same_identity")
    if len(d) != len(same):
        raise ValueError(f"distances and same_identity must have one entry per pair; got {len(d)} distances and {len(same)} labels")
    if len(d) == 0:
        raise ValueError("distances is empty; expected at least one genuine and one impostor pair")
    if not np.issubdtype(d.dtype, np.number) or np.issubdtype(d.dtype, np.complexfloating):
        raise ValueError(f"distances must be real numbers; got dtype {d.dtype}")
    d = d.astype(np.float64)
    bad = ~np.isfinite(d)
    if bad.any():
        raise ValueError(
            f"distances must be finite; found {int(np.isnan(d).sum())} NaN and {int(np.isinf(d).sum())} infinite "
            f"(first at index {int(np.flatnonzero(bad)[0])})"
        )
    same = _check_labels(same)
    n_gen = int(same.sum())
    n_imp = len(same) - n_gen
    if n_gen == 0 or n_imp == 0:
        found = f"{n_gen} genuine and {n_imp} impostor pairs"
        raise ValueError(f"a ROC needs both genuine (same_identity True) and impostor (False) pairs; found {found}")
    far, tar, score_thr = roc_curve(same, -d, drop_intermediate=False)
    thresholds = -score_thr  # score >= s  <=>  distance <= -s; sklearn's first score threshold is +inf
    result_auc = float(_auc(far, tar))
    tar_at = {float(f): tar_at_far(far, tar, f) for f in fars}
    return VerificationResult(far, tar, thresholds, result_auc, tar_at, n_gen, n_imp)


def tar_at_far(far: ArrayLike, tar: ArrayLike, target: float) -> float:
    """TAR at the largest FAR not above ``target``: the best TAR among ROC points with
    ``far <= target``. ``far``, ``tar`` ``(P,)``, FAR non-decreasing (as :func:`verification`
    and ``roc_curve`` give them). 0 when no point qualifies (accepting nothing has FAR 0, TAR 0).
    """
    f = _as_numpy(far, "far").astype(np.float64)
    t = _as_numpy(tar, "tar").astype(np.float64)
    if len(f) != len(t):
        raise ValueError(f"far and tar must be ROC points of equal length; got {len(f)} and {len(t)}")
    if not 0.0 <= target <= 1.0:
        raise ValueError(f"target must be a false-accept rate in [0, 1]; got {target}")
    if np.isnan(f).any() or np.isnan(t).any():
        raise ValueError("far and tar must not contain NaN")
    if (np.diff(f) < 0).any():
        i = int(np.flatnonzero(np.diff(f) < 0)[0])
        raise ValueError(f"far must be non-decreasing (a ROC in threshold order); far[{i}] = {f[i]} > far[{i + 1}] = {f[i + 1]}")
    ok = f <= target
    return float(t[ok].max()) if ok.any() else 0.0
