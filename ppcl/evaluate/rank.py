"""CMC and mAP from a distance matrix, vectorised (no per-query Python loop, no full sort).

AP needs only where the true matches rank. For each query, the distances of its true matches
are sorted (``topk`` of a few values per row); every other valid gallery entry is binned
against them with ``searchsorted``; a cumulative histogram then gives, for the k-th match,
how many non-matches come before it. Ties between a match and a non-match count against the
match (the pessimistic order).

Camera filtering (Market-1501's rule: a gallery image of the query's identity taken by the
query's camera is not a valid match) applies only when camera ids are given. Datasets
without cameras (Partial-REID, Partial-iLIDS) must pass none: see
:mod:`ppcl.evaluate.protocols`.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

ArrayLike = Tensor | np.ndarray | Sequence[int]


def _as_tensor(x: ArrayLike, name: str) -> Tensor:
    t = x if isinstance(x, Tensor) else torch.as_tensor(np.asarray(x))
    if t.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {tuple(t.shape)}")
    return t.long()


def rank(
    distmat: Tensor | np.ndarray,
    q_pids: ArrayLike,
    g_pids: ArrayLike,
    q_camids: ArrayLike | None = None,
    g_camids: ArrayLike | None = None,
    max_rank: int = 10,
    chunk: int = 512,
) -> dict:
    """CMC (ranks 1..max_rank) and mAP over queries with at least one valid true match.

    Returns ``{"cmc": array(max_rank), "mAP", "rank1", "rank3", "rank5", "rank10",
    "num_valid_queries", "num_queries", "per_query"}`` with accuracies as fractions in [0, 1];
    ``per_query`` holds, for each valid query in order, its index (``query``), the 0-based rank of
    its first true match (``first``) and its AP (``ap``), so methods scored on the same queries can
    be compared query by query (:mod:`ppcl.evaluate.compare`).

    >>> d = torch.tensor([[0.1, 0.5, 0.3], [0.4, 0.2, 0.9]])
    >>> r = rank(d, [7, 8], [8, 9, 7], max_rank=3)  # each query's one match comes second: AP 1/2
    >>> r["cmc"].tolist(), r["mAP"]
    ([0.0, 1.0, 1.0], 0.5)
    """
    d = torch.as_tensor(np.asarray(distmat) if not isinstance(distmat, Tensor) else distmat).float()
    qp, gp = _as_tensor(q_pids, "q_pids"), _as_tensor(g_pids, "g_pids")
    if d.shape != (len(qp), len(gp)):
        raise ValueError(f"distmat has shape {tuple(d.shape)}; expected (len(q_pids), len(g_pids)) = ({len(qp)}, {len(gp)})")
    if (q_camids is None) != (g_camids is None):
        raise ValueError("give camera ids for both query and gallery, or for neither")
    cams = q_camids is not None
    if cams:
        qc, gc = _as_tensor(q_camids, "q_camids"), _as_tensor(g_camids, "g_camids")
        if len(qc) != len(qp) or len(gc) != len(gp):
            raise ValueError("camera ids must have one entry per query / gallery image")
    cmc_hits = torch.zeros(max_rank)
    aps: list[Tensor] = []
    firsts: list[Tensor] = []
    kept: list[Tensor] = []
    for s in range(0, len(qp), chunk):
        dq = d[s : s + chunk]
        match = qp[s : s + chunk, None] == gp[None, :]
        valid = torch.ones_like(match)
        if cams:
            valid = ~(match & (qc[s : s + chunk, None] == gc[None, :]))
        match &= valid
        n_match = match.sum(1)
        keep = n_match > 0
        if not keep.any():
            continue
        kept.append(torch.arange(s, s + len(keep))[keep])
        dq, match, valid, n_match = dq[keep], match[keep], valid[keep], n_match[keep]
        m_max = int(n_match.max())
        m_sorted = dq.masked_fill(~match, float("inf")).topk(m_max, dim=1, largest=False).values
        # Bin every valid non-match by how many match distances lie strictly below it.
        bins = torch.searchsorted(m_sorted.contiguous(), dq.contiguous(), right=False)
        weight = (valid & ~match).float()
        hist = torch.zeros(len(dq), m_max + 1).scatter_add_(1, bins, weight)
        before = hist.cumsum(1)[:, :m_max]  # non-matches at or before the k-th match
        k = torch.arange(1, m_max + 1, dtype=torch.float32)
        ranks = before + k - 1  # 0-based rank of the k-th match
        real = k[None, :] <= n_match[:, None]
        aps.append(((k / (ranks + 1)) * real).sum(1) / n_match)
        first = ranks[:, 0].long()
        firsts.append(first)
        cmc_hits += (first[:, None] < torch.arange(1, max_rank + 1)[None, :]).float().sum(0)
    n_valid = int(sum(len(a) for a in aps))
    if n_valid == 0:
        raise ValueError("no query has a valid true match in the gallery (all filtered out?)")
    cmc = (cmc_hits / n_valid).numpy()
    ap = torch.cat(aps)
    out = {"cmc": cmc, "mAP": float(ap.mean()), "num_valid_queries": n_valid, "num_queries": len(qp),
           "per_query": {"query": torch.cat(kept).numpy(), "first": torch.cat(firsts).numpy(), "ap": ap.numpy()}}
    for r in (1, 3, 5, 10):
        if r <= max_rank:
            out[f"rank{r}"] = float(cmc[r - 1])
    return out
