"""Validation on held-out *training* identities: simulated partial queries vs holistic gallery.

Each validation identity gives one image as a query, cut to a simulated partial crop with a
fixed seed; its other images (and every other identity's) form the gallery. The same engine
and ranking as the test protocols; used to select epochs and hyper-parameters.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..data.common import Record
from ..data.partial import SIDES, simulate_partial_batch
from ..models.ppcl import PPCL
from .engine import distance_matrix, encode, load_images
from .rank import rank


def validation_set(records: Sequence[Record], size: tuple[int, int], seed: int = 0,
                   area: tuple[float, float] = (0.3, 0.8), sides: tuple[str, ...] = SIDES) -> dict:
    """Queries (partial crops, resized to ``size``) and gallery images, with pids."""
    rng = np.random.default_rng(seed)
    by_pid: dict[int, list[Record]] = {}
    for r in records:
        by_pid.setdefault(r.pid, []).append(r)
    q_recs, g_recs = [], []
    for pid in sorted(by_pid):
        rs = by_pid[pid]
        if len(rs) < 2:
            g_recs += rs
            continue
        i = int(rng.integers(len(rs)))
        q_recs.append(rs[i])
        g_recs += rs[:i] + rs[i + 1 :]
    if not q_recs:
        raise ValueError("validation needs at least one identity with two or more images")
    x = load_images(q_recs, size)
    x_p, t, _, side = simulate_partial_batch(x, torch.Generator().manual_seed(seed), 1.0, area, sides)
    return {"query": x_p, "q_pids": [r.pid for r in q_recs], "t": t, "side": side,
            "gallery": load_images(g_recs, size), "g_pids": [r.pid for r in g_recs]}


@torch.no_grad()
def validate(model: PPCL, val: dict, methods: Sequence[str] = ("+R+L",), device="cpu") -> dict[str, dict]:
    """``{method: rank(...)}`` on a :func:`validation_set`."""
    out = {}
    cache = {}
    for m in methods:
        key = "+R" if m in ("+R", "+R+L") else m
        if key not in cache:
            cache[key] = (encode(model, val["query"], m, device=device), encode(model, val["gallery"], m, device=device))
        q, g = cache[key]
        out[m] = rank(distance_matrix(model, q, g, m, device=device), val["q_pids"], val["g_pids"])
    return out
